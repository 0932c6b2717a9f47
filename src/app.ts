import 'reflect-metadata';
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Config } from './config/config.js';
import { AppModule } from './app.module.js';
import { Database } from './modules/database/database.js';
import { EmbeddedPostgres } from './modules/database/embedded-postgres.js';
import { migrate } from './modules/database/migrate.js';
import { NestPinoLogger, type Logger } from './modules/logging/logger.js';
import { loadCatalog } from './modules/catalog/load-catalog.js';
import { ProjectionsThread } from './projections/thread/projections-thread.js';
import { resolveSecrets } from './modules/privacy/secrets.js';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ApolloServer } from '@apollo/server';
import type { ApolloDriver } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import type { WebSocket, WebSocketServer } from 'ws';
import { ApiKeyring } from './modules/auth/api-keys.js';
import { bodyRefusals, refuseBody } from './modules/core/json-posts.js';
import { answerGraphQLPost, GRAPHQL_BODY_LIMIT, isPlainGraphQLPost } from './modules/graphql/graphql-posts.js';
import { graphqlContext, type RequestContext } from './modules/graphql/graphql.options.js';
import { logSocketErrors } from './modules/graphql/socket-errors.js';
import { coalesceWrites } from './modules/graphql/socket-writes.js';
import { SEGMENT_BODY_LIMIT, SegmentApi } from './modules/ingestion/segment-api.js';
import { answerSegmentPost, plainSegmentCall } from './modules/ingestion/segment-posts.js';

/** A running Trailmap: its HTTP address, its database, and the way to stop it in order. */
export interface Trailmap {
  app: NestExpressApplication;
  url: string;
  graphqlUrl: string;
  databaseUrl: string;
  embedded?: EmbeddedPostgres;
  stop(): Promise<void>;
}

/** Where the database comes from: the configured URL, or an embedded PostgreSQL in the data folder. */
export async function openDatabase(config: Config, logger: Logger) {
  const embedded = config.DATABASE_URL ? undefined : await EmbeddedPostgres.start(config.TRAILMAP_DATA_DIR, logger);
  const url = config.DATABASE_URL ?? embedded!.url;
  return { url, embedded };
}

export async function startTrailmap(config: Config, logger: Logger): Promise<Trailmap> {
  // Configuration problems stop the start before any database is touched.
  const [secrets, catalog] = await Promise.all([resolveSecrets(config, logger), loadCatalog(config)]);
  const { url: databaseUrl, embedded } = await openDatabase(config, logger);
  let database: Database | undefined;
  let projections: ProjectionsThread | undefined;
  try {
    await migrate(databaseUrl, logger);
    database = new Database(databaseUrl, config.DATABASE_POOL_SIZE);
    const app = await NestFactory.create<NestExpressApplication>(
      AppModule.register({ config, logger, database, secrets, catalog }),
      { logger: new NestPinoLogger(logger), bufferLogs: false, bodyParser: false },
    );
    // GraphQL and the Segment API answer POSTs, which no client revalidates: no ETag (a hash of every response body).
    app.set('etag', false);
    app.disable('x-powered-by');
    limitRequestBodies(app);
    await app.init();
    tuneSockets(app, logger);
    const inFlight = serveRequests(app, logger);
    await app.listen(config.PORT, config.HOST);
    projections = config.TRAILMAP_PROJECTIONS === 'worker' ? await ProjectionsThread.start({ config, databaseUrl, secrets }, logger) : undefined;
    const server = app.getHttpServer() as Server;
    const { port } = server.address() as AddressInfo;
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const openDatabase = database;
    return {
      app,
      url,
      graphqlUrl: `${url}/graphql`,
      databaseUrl,
      embedded,
      stop: once(async () => {
        // No new connections; requests already in flight finish before anything closes.
        server.close();
        server.closeIdleConnections();
        await inFlight.drained(config.SHUTDOWN_TIMEOUT);
        server.closeAllConnections();
        await projections?.stop();
        await app.close();
        await openDatabase.end();
        await embedded?.stop();
      }),
    };
  } catch (error) {
    await projections?.stop().catch(() => undefined);
    await database?.end().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
}

/** Body limits on every endpoint: Segment's 500 KB on its API, 1 MiB elsewhere; an oversized body gets a JSON 413. */
function limitRequestBodies(app: NestExpressApplication) {
  // Segment's browser library posts JSON as text/plain to avoid CORS preflights.
  app.use('/v1', express.json({ limit: SEGMENT_BODY_LIMIT, type: ['application/json', 'text/plain'], verify: refuseInvalidUtf8 }));
  app.use(express.json({ limit: GRAPHQL_BODY_LIMIT, verify: refuseInvalidUtf8 }));
  app.use((error: Error & { status?: number; type?: string; limit?: number }, _request: Request, response: Response, next: NextFunction) => {
    if (!error.status || error.status >= 500) return next(error);
    const message =
      error.type === 'entity.too.large' ? bodyRefusals.tooLarge(error.limit!) : error.type === INVALID_UTF8 ? bodyRefusals.invalidUtf8 : bodyRefusals.invalidJson(error.message);
    refuseBody(response, error.status, message);
  });
}

/**
 * graphql-ws's sockets, which Nest makes without a way to configure them, set up here before the
 * server listens. Messages are held to the GraphQL body limit: ws accepts 100 MiB a message by
 * default (each connection reads the option when it is upgraded; a larger message closes its socket
 * with 1009), and socket errors are logged as Trailmap's. And each socket's messages are written
 * together, once per turn of the event loop.
 */
function tuneSockets(app: NestExpressApplication, logger: Logger) {
  // Nest's own copy of ws: the server is recognised by its options, not by class.
  const driver = app.get<GraphQLModule<ApolloDriver>>(GraphQLModule).graphQlAdapter as unknown as { _subscriptionService?: { wss?: WebSocketServer } };
  const sockets = driver._subscriptionService?.wss;
  if (typeof sockets?.options?.maxPayload !== 'number') throw new Error("Expected Nest's GraphQL driver to hold graphql-ws's WebSocketServer.");
  sockets.options.maxPayload = GRAPHQL_BODY_LIMIT;
  sockets.on('connection', (socket: WebSocket) => {
    logSocketErrors(socket, logger);
    coalesceWrites(socket);
  });
}

const INVALID_UTF8 = 'encoding.invalid';

/** Decoding would turn bytes that are not UTF-8 into U+FFFD, silently changing the request (a key, a type, an id): refuse it. */
function refuseInvalidUtf8(_request: unknown, _response: unknown, body: Buffer, encoding: string): void {
  if (encoding.toLowerCase() === 'utf-8' && !isUtf8(body)) {
    throw Object.assign(new Error(bodyRefusals.invalidUtf8), { status: 400, type: INVALID_UTF8 });
  }
}

/**
 * Every HTTP request comes in here: counted while in flight (a stop lets them finish), a plain
 * GraphQL POST answered by Apollo directly, a plain Segment POST by the Segment API directly,
 * anything else by express.
 */
function serveRequests(app: NestExpressApplication, logger: Logger) {
  const server = app.getHttpServer() as Server;
  const viaExpress = app.getHttpAdapter().getInstance() as RequestListener;
  if (!server.listeners('request').includes(viaExpress)) throw new Error("Expected express among the HTTP server's request listeners.");
  // The others (Apollo's drain plugin counts requests per socket) stay where they are, after this one.
  server.removeListener('request', viaExpress);
  // Nest's driver types Apollo with its base context; the context it runs with is ours (graphqlOptions).
  const apollo = app.get<GraphQLModule<ApolloDriver>>(GraphQLModule).graphQlAdapter.instance as unknown as ApolloServer<RequestContext>;
  const context = graphqlContext(app.get(ApiKeyring));
  const segment = app.get(SegmentApi);
  let active = 0;
  let onIdle: (() => void) | undefined;
  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    active += 1;
    response.once('close', () => {
      active -= 1;
      if (active === 0) onIdle?.();
    });
    if (isPlainGraphQLPost(request)) return answerGraphQLPost(apollo, context, logger, request, response);
    const call = plainSegmentCall(request);
    if (call !== undefined) return answerSegmentPost(segment, logger, call, request, response);
    viaExpress(request, response);
  });
  return {
    drained(timeoutMs: number): Promise<void> {
      if (active === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}

function once(action: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= action());
}
