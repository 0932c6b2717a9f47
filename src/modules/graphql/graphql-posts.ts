import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import { isPlainJsonBody, readJsonBody } from '../core/json-posts.js';
import type { Logger } from '../logging/logger.js';
import type { RequestContext } from './graphql.options.js';

/** Where GraphQL is served, over HTTP and graphql-ws. */
export const GRAPHQL_PATH = '/graphql';
/** The largest body a GraphQL request may have, whichever way it comes in. */
export const GRAPHQL_BODY_LIMIT = 1024 * 1024;

const JSON_TYPE = /^application\/json$/i;

/**
 * A GraphQL POST of plain JSON: the path exactly, `application/json` in UTF-8, no content encoding.
 * These are answered by `answerGraphQLPost`; anything else (GET, the landing page, other types,
 * charsets or encodings) goes through express and body-parser as before.
 */
export function isPlainGraphQLPost(request: IncomingMessage): boolean {
  return request.method === 'POST' && request.url === GRAPHQL_PATH && isPlainJsonBody(request, JSON_TYPE);
}

/**
 * Answers a plain GraphQL POST with Apollo directly, without express (see `json-posts`): a quarter of
 * a `customer(id)`'s CPU at 500 requests/s went to express's router and body-parser.
 */
export function answerGraphQLPost(
  apollo: ApolloServer<RequestContext>,
  context: (request: { req: IncomingMessage }) => RequestContext,
  logger: Logger,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  readJsonBody(request, response, GRAPHQL_BODY_LIMIT, logger, (body) => execute(apollo, context, request, response, body));
}

async function execute(
  apollo: ApolloServer<RequestContext>,
  context: (request: { req: IncomingMessage }) => RequestContext,
  request: IncomingMessage,
  response: ServerResponse,
  body: unknown,
): Promise<void> {
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const answer = await apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: 'POST', headers, search: '', body },
    context: async () => context({ req: request }),
  });
  for (const [name, value] of answer.headers) response.setHeader(name, value);
  response.statusCode = answer.status ?? 200;
  if (answer.body.kind === 'complete') {
    response.end(answer.body.string);
    return;
  }
  for await (const chunk of answer.body.asyncIterator) response.write(chunk);
  response.end();
}
