import { performance } from 'node:perf_hooks';
import type { Database } from '../../src/modules/database/database.js';
import { apiKeys, testEnvironment } from './app.js';
import { graphqlAt } from './clients.js';
import { ServerProcess } from './process.js';
import { readModels } from './projections.js';

export interface ProjectionFigures {
  name: string;
  state: string;
  lag: number | null;
  processedEvents: number;
  active: boolean;
  rebuild: { processedEvents: number } | null;
}

export const PROJECTIONS = ['customer-profile', 'journey-stage', 'analytics', 'timeline'] as const;

/** The `projections` query as an operator reads it; undefined while the server cannot answer it. */
export async function projectionsAt(baseUrl: string): Promise<ProjectionFigures[] | undefined> {
  const answer = await graphqlAt(baseUrl, '{ projections { name state lag processedEvents active rebuild { processedEvents } } }', undefined, apiKeys.operator);
  return answer.body?.data?.projections ?? undefined;
}

export async function until(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const allSettled = (statuses: ProjectionFigures[] | undefined) =>
  statuses !== undefined && statuses.every((status) => status.state === 'LIVE' && status.lag === 0 && status.rebuild === null);

/** Waits until every projection is LIVE with lag 0 and no rebuild; resolves with performance.now() at that moment. */
export async function settled(baseUrl: string, timeoutMs = 60_000): Promise<number> {
  let last: ProjectionFigures[] | undefined;
  await until(async () => allSettled((last = await projectionsAt(baseUrl))), 'the projections to be LIVE with lag 0', timeoutMs).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${JSON.stringify(last)}`);
  });
  return performance.now();
}

/**
 * Rebuilds every projection by replay through the API and waits for the swaps: the read models
 * then are what a clean build from the log gives.
 */
export async function rebuildAll(baseUrl: string, timeoutMs = 60_000, names: readonly string[] = PROJECTIONS): Promise<void> {
  for (const name of names) {
    const answer = await graphqlAt(baseUrl, 'mutation($name: String!) { rebuildProjection(name: $name) { name } }', { name }, apiKeys.operator);
    if (answer.body?.errors) throw new Error(`rebuild of ${name} refused: ${JSON.stringify(answer.body.errors)}`);
  }
  await settled(baseUrl, timeoutMs);
}

/** The live read models equal a clean rebuild from the log: returns both for a `toEqual`. */
export async function liveAndRebuilt(baseUrl: string, database: Database, timeoutMs = 60_000) {
  await settled(baseUrl, timeoutMs);
  const live = await readModels(database);
  await rebuildAll(baseUrl, timeoutMs);
  return { live, rebuilt: await readModels(database) };
}

/** HTTP status of `/health/ready`, 0 when the server does not answer. */
export async function readiness(baseUrl: string): Promise<number> {
  try {
    return (await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(5_000) })).status;
  } catch {
    return 0;
  }
}

/**
 * A server process on a database with the tests' keys, its scheduler quiet so that the log holds
 * exactly what the test sends. Resolves once it serves, with its base URL (`http://127.0.0.1:port`).
 */
export async function serverOn(databaseUrl: string, environment: Record<string, string> = {}): Promise<{ server: ServerProcess; url: string }> {
  const server = ServerProcess.start({
    ...(testEnvironment() as Record<string, string>),
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'info',
    TRAILMAP_SCHEDULER_INTERVAL: '1h',
    ...environment,
  });
  try {
    return { server, url: (await server.ready()).replace(/\/graphql$/, '') };
  } catch (error) {
    await server.stop('SIGKILL');
    throw error;
  }
}
