import { randomBytes } from 'node:crypto';
import { loadConfig, type Environment } from '../../src/config/config.js';
import { startTrailmap, type Trailmap } from '../../src/app.js';
import { silentLogger } from './database.js';

/** One API key per role, as tests present them. */
export const apiKeys = {
  admin: 'test-admin-key-0000000000',
  ingest: 'test-ingest-key-000000000',
  support: 'test-support-key-00000000',
  analyst: 'test-analyst-key-00000000',
  operator: 'test-operator-key-0000000',
} as const;

/** Keys shared by every instance a test file starts, as the instances of one deployment share them. */
const masterKey = randomBytes(32).toString('base64');
const pseudonymKey = randomBytes(32).toString('base64');

export const testEnvironment = (): Environment => ({
  PORT: '0',
  LOG_LEVEL: 'silent',
  NODE_ENV: 'test',
  TRAILMAP_API_KEYS: Object.entries(apiKeys).map(([role, key]) => `${key}:${role}`).join(','),
  TRAILMAP_MASTER_KEY: masterKey,
  TRAILMAP_PSEUDONYM_KEY: pseudonymKey,
});

/** The real application on a test database, listening on a free port. */
export function bootTrailmap(databaseUrl: string, environment: Environment = {}): Promise<Trailmap> {
  // The projections on the request loop: their thread runs the compiled script, as in the tests that start dist/main.js.
  const config = loadConfig({ DATABASE_URL: databaseUrl, ...testEnvironment(), TRAILMAP_PROJECTIONS: 'on', ...environment });
  return startTrailmap(config, silentLogger);
}

export interface GraphQLResponse<T> {
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown>; path?: (string | number)[] }[];
}

export async function graphql<T = Record<string, unknown>>(
  trailmap: Trailmap,
  query: string,
  variables?: Record<string, unknown>,
  key: string | undefined = apiKeys.admin,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(trailmap.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}
