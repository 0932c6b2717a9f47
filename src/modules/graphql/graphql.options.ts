import { readFileSync } from 'node:fs';
import { unwrapResolverError } from '@apollo/server/errors';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import type { Request } from 'express';
import type { GraphQLFormattedError } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Config } from '../../config/config.js';
import type { ApiKeyring, Principal } from '../auth/api-keys.js';
import { presentedKey } from '../auth/authorize.js';
import { describeError } from '../core/error-codes.js';
import type { Logger } from '../logging/logger.js';

/** The public contract, served as-is; modules add to it with `extend type`. */
export const contractTypeDefs = readFileSync(new URL('../../../contract/schema.graphql', import.meta.url), 'utf8');

/** What every resolver receives: who is calling, and the request's batching loaders. */
export interface RequestContext {
  principal?: Principal;
  loaders: Map<string, unknown>;
}

interface SubscriptionContext {
  connectionParams?: Record<string, unknown>;
}

export function graphqlOptions(config: Config, keyring: ApiKeyring, logger: Logger, extensions: string[] = []): ApolloDriverConfig {
  const development = config.NODE_ENV !== 'production';
  return {
    path: '/graphql',
    typeDefs: [contractTypeDefs, ...extensions],
    resolvers: { DateTime: DateTimeResolver, JSON: JSONResolver },
    subscriptions: { 'graphql-ws': { path: '/graphql' } },
    introspection: development,
    graphiql: development,
    context: (request: { req?: Request } & SubscriptionContext): RequestContext => {
      const authorization = request.req ? request.req.headers.authorization : request.connectionParams?.authorization;
      return { principal: keyring.authenticate(presentedKey(typeof authorization === 'string' ? authorization : undefined)), loaders: new Map() };
    },
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
}
