import { readFileSync } from 'node:fs';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Config } from '../../config/config.js';

/** The public contract, served as-is; modules add to it with `extend type`. */
export const contractTypeDefs = readFileSync(new URL('../../../contract/schema.graphql', import.meta.url), 'utf8');

export function graphqlOptions(config: Config, extensions: string[] = []): ApolloDriverConfig {
  const development = config.NODE_ENV !== 'production';
  return {
    path: '/graphql',
    typeDefs: [contractTypeDefs, ...extensions],
    resolvers: { DateTime: DateTimeResolver, JSON: JSONResolver },
    subscriptions: { 'graphql-ws': { path: '/graphql' } },
    introspection: development,
    graphiql: development,
    context: ({ req, extra }: { req?: unknown; extra?: unknown }) => ({ req, extra }),
  };
}
