import { loadConfig, type Environment } from '../../src/config/config.js';
import { startTrailmap, type Trailmap } from '../../src/app.js';
import { silentLogger } from './database.js';

/** The real application on a test database, listening on a free port. */
export function bootTrailmap(databaseUrl: string, environment: Environment = {}): Promise<Trailmap> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', LOG_LEVEL: 'silent', NODE_ENV: 'test', ...environment });
  return startTrailmap(config, silentLogger);
}

export async function graphql<T = Record<string, unknown>>(
  trailmap: Trailmap,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ data?: T; errors?: { message: string; extensions?: Record<string, unknown>; path?: string[] }[] }> {
  const response = await fetch(trailmap.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as never;
}
