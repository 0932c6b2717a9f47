import { readFileSync } from 'node:fs';
import { unwrapResolverError } from '@apollo/server/errors';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import type { GraphQLWsSubscriptionsConfig } from '@nestjs/graphql';
import type { IncomingMessage } from 'node:http';
import { GraphQLError, GraphQLScalarType, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { ServerOptions } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { Config } from '../../config/config.js';
import type { ApiKeyring, Principal } from '../auth/api-keys.js';
import { presentedKey } from '../auth/authorize.js';
import { describeError } from '../core/error-codes.js';
import type { Logger } from '../logging/logger.js';
import { CompiledExecution, type ErrorFormat } from './compiled-execution.js';
import { refuseIntrospection, socketOperations } from './operation-rules.js';
import { SharedSubscriptions, type SocketSubscriptionContext } from './shared-subscriptions.js';
import { GRAPHQL_PATH } from './graphql-posts.js';
import { textWriterOf } from './socket-writes.js';
import type { AccessLog } from '../privacy/access-log.js';
import { flushPersonalReads, personalDataPlugin, type PersonalDataNotes } from '../privacy/personal-data-reads.js';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { ApolloServerPlugin } from '@apollo/server';

/** The public contract, served as-is; modules add to it with `extend type`. */
export const contractTypeDefs = readFileSync(new URL('../../../contract/schema.graphql', import.meta.url), 'utf8');

/** What every resolver receives: who is calling, the request's batching loaders, its personal data notes. */
export interface RequestContext extends PersonalDataNotes {
  principal?: Principal;
  loaders: Map<string, unknown>;
}

interface SubscriptionContext {
  connectionParams?: Record<string, unknown>;
}

/**
 * graphql-scalars' DateTime, written straight as an ISO string: its own serializer checked every
 * string against RFC 3339's grammar, made a Date of it and left JSON to turn that back into the same
 * string (~4 µs a field, a dozen of them in a profile with its history). Inputs are read as before.
 */
const DateTime = new GraphQLScalarType({ ...DateTimeResolver.toConfig(), serialize: serializeInstant });

function serializeInstant(value: unknown): string {
  const instant = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
  if (instant === undefined || Number.isNaN(instant.getTime())) throw new GraphQLError(`DateTime cannot represent ${JSON.stringify(value)}.`);
  return instant.toISOString();
}

/** Limits on what one GraphQL document may ask, each refused with a clear validation error. */
export const queryLimits = { depth: 15, aliases: 20, directives: 20, tokens: 5_000, cost: 20_000 } as const;

/** A request's context: over HTTP from its Authorization header, over graphql-ws from `connectionParams.authorization`. */
export function graphqlContext(keyring: ApiKeyring) {
  return (request: { req?: Pick<IncomingMessage, 'headers'> } & SubscriptionContext): RequestContext => {
    const authorization = request.req ? request.req.headers.authorization : request.connectionParams?.authorization;
    return { principal: keyring.authenticate(presentedKey(typeof authorization === 'string' ? authorization : undefined)), loaders: new Map() };
  };
}

export function graphqlOptions(config: Config, keyring: ApiKeyring, logger: Logger, accessLog: AccessLog, extensions: string[] = []): ApolloDriverConfig {
  const development = config.NODE_ENV !== 'production';
  const armor = new ApolloArmor({
    // Introspection (the classic deep query) is counted where it is served at all: production serves none.
    maxDepth: { n: queryLimits.depth, ignoreIntrospection: development, exposeLimits: true },
    maxAliases: { n: queryLimits.aliases, exposeLimits: true },
    maxDirectives: { n: queryLimits.directives, exposeLimits: true },
    // Counted by Apollo's own parser (parseOptions below): armor's token plugin parses in a plugin hook, where any syntax error became an HTTP 500.
    maxTokens: { enabled: false },
    costLimit: { maxCost: queryLimits.cost, exposeLimits: true },
    // Suggestions ("did you mean …") describe the schema; production keeps it to itself.
    blockFieldSuggestion: { enabled: !development },
  }).protect();
  // One set of rules for both transports, GraphQL POSTs (Apollo) and graphql-ws.
  const validationRules = [...armor.validationRules, ...(development ? [] : [refuseIntrospection])];
  // The schema Nest builds, served as built; graphql-ws validates against it.
  let servedSchema: GraphQLSchema | undefined;
  const format: ErrorFormat = (formatted, error) => options.formatError!(formatted, error);
  const options: ApolloDriverConfig = {
    path: GRAPHQL_PATH,
    typeDefs: [contractTypeDefs, ...extensions],
    resolvers: { DateTime, JSON: JSONResolver },
    transformSchema: (schema) => (servedSchema = schema),
    subscriptions: {
      'graphql-ws': graphqlWsOptions(
        keyring,
        accessLog,
        new SharedSubscriptions(),
        socketOperations({
          schema: () => {
            if (!servedSchema) throw new Error('The schema must be built before sockets are served.');
            return servedSchema;
          },
          validationRules,
          maxTokens: queryLimits.tokens,
          suggestions: development,
        }),
        format,
      ),
    },
    // Refused by `refuseIntrospection` where it is off, on both transports.
    introspection: true,
    graphiql: development,
    validationRules,
    parseOptions: { maxTokens: queryLimits.tokens },
    allowBatchedHttpRequests: false,
    // graphql-armor's typings name Apollo's CommonJS build; the plugins are the same objects.
    // No HTTP caching of this API (answers depend on the caller's role), so no cache hints: Apollo's cache-control plugin would wrap every field's resolver to compute them.
    // Known queries and mutations are executed compiled (CompiledExecution), their errors formatted as Apollo formats graphql-js's.
    plugins: [...(armor.plugins as unknown as ApolloServerPlugin[]), personalDataPlugin(accessLog), ApolloServerPluginCacheControlDisabled(), new CompiledExecution(format)],
    // Stack traces stay in the log; answers never carry them (the same in development).
    includeStacktraceInErrorResponses: false,
    context: graphqlContext(keyring),
    formatError: (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
      const original = unwrapResolverError(error);
      // Errors of the GraphQL layer itself (parse, validation) already carry their code.
      if (formatted.extensions?.code && formatted.extensions.code !== 'INTERNAL_SERVER_ERROR') return formatted;
      const description = describeError(original);
      if (!description.expected) logger.error({ err: original, path: formatted.path }, 'GraphQL resolver failed');
      return {
        message: description.message,
        ...(formatted.locations && { locations: formatted.locations }),
        ...(formatted.path && { path: formatted.path }),
        extensions: { code: description.code, ...(description.problems && { problems: description.problems }) },
      };
    },
  };
  return options;
}

/** Close code of a socket whose `connection_init` carries no valid API key, as HTTP's 401 (graphql-ws refuses with 4403 otherwise). */
export const UNAUTHENTICATED_CLOSE_CODE = 4401;

/**
 * graphql-ws on /graphql: the API key is checked once, in `connection_init`; each subscription then
 * checks its own permission (a missing one is that subscription's FORBIDDEN error, the socket stays
 * open), and errors reach socket clients formatted as they reach HTTP clients.
 */
function graphqlWsOptions(
  keyring: ApiKeyring,
  accessLog: AccessLog,
  subscriptions: SharedSubscriptions,
  onSubscribe: ServerOptions['onSubscribe'],
  format: ErrorFormat,
): GraphQLWsSubscriptionsConfig {
  const contextOf = graphqlContext(keyring);
  // graphql-ws's `context`, `subscribe` and `onError` are not in Nest's type; Nest hands every option to graphql-ws.
  const sockets: GraphQLWsSubscriptionsConfig & Pick<ServerOptions, 'context' | 'onError' | 'subscribe'> = {
    path: GRAPHQL_PATH,
    onSubscribe,
    // As over HTTP, with where the subscription's messages go: its shared results are written there directly (SharedSubscriptions).
    // `req` is the socket's graphql-ws context, as Nest's own context wrapper gives it.
    context: (socket, id): RequestContext & SocketSubscriptionContext & { req: unknown } => ({
      ...contextOf(socket),
      req: socket,
      subscriptionTarget: { id, socket: textWriterOf((socket.extra as { socket: WebSocket }).socket) },
    }),
    subscribe: subscriptions.subscribe,
    onConnect: ({ connectionParams, extra }) => {
      const authorization = connectionParams?.authorization;
      const presented = presentedKey(typeof authorization === 'string' ? authorization : undefined);
      if (keyring.authenticate(presented)) return true;
      // Closed here with our code and reason; graphql-ws's own close that follows `false` is then a no-op.
      (extra as { socket: WebSocket }).socket.close(
        UNAUTHENTICATED_CLOSE_CODE,
        presented ? 'Unauthenticated: the API key in connectionParams.authorization is not valid.' : 'Unauthenticated: send connectionParams.authorization = "Bearer <key>".',
      );
      return false;
    },
    // Called for every message to every subscriber: no promise unless there are reads to log.
    onNext: (_socket, _id, payload, args, result) => {
      const formatted = result.errors && { ...result, errors: result.errors.map((error) => format(error.toJSON(), error)) };
      const notes = args.contextValue as PersonalDataNotes;
      if (!notes.personalReads?.size) return formatted;
      return flushPersonalReads(notes, accessLog, payload.operationName ?? 'subscription').then(() => formatted);
    },
    // A subscription that ends in error (its source failed) gets the error its cause describes.
    onError: (_socket, _id, _payload, errors) => errors.map((error) => format(error.toJSON(), error.originalError ?? error)),
  };
  return sockets;
}
