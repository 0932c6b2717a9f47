import type { Database } from '../../src/modules/database/database.js';
import type { ProjectionsService, ProjectionStatus } from '../../src/projections/projections.service.js';

/** Waits until every projection has applied the whole log (and no rebuild is pending). */
export async function caughtUp(projections: ProjectionsService, timeoutMs = 30_000): Promise<(ProjectionStatus & { lag: number })[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all((await projections.statuses()).map(async (status) => ({ ...status, lag: await projections.lag(status.position) })));
    if (statuses.every((status) => status.state === 'LIVE' && status.lag === 0 && status.rebuild === null)) return statuses;
    if (Date.now() > deadline) throw new Error(`projections not caught up after ${timeoutMs} ms: ${JSON.stringify(statuses)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every read-model table as ordered JSON rows, for comparing a live build with a rebuild. */
export async function readModels(database: Database): Promise<Record<string, unknown[]>> {
  const queries: Record<string, string> = {
    customer_profiles: 'SELECT * FROM customer_profiles ORDER BY customer_id',
    customer_identities: 'SELECT * FROM customer_identities ORDER BY identity_hash, customer_id',
    journey_states: 'SELECT * FROM journey_states ORDER BY customer_id',
    journey_transitions: 'SELECT * FROM journey_transitions ORDER BY customer_id, event_id',
    analytics_events: 'SELECT * FROM analytics_events ORDER BY event_id',
    analytics_daily_activity: 'SELECT * FROM analytics_daily_activity ORDER BY day, category, event_type',
    analytics_daily_customers: 'SELECT * FROM analytics_daily_customers ORDER BY day, category, event_type, pseudonym',
    analytics_stage_transitions: 'SELECT * FROM analytics_stage_transitions ORDER BY pseudonym, event_id',
    analytics_journeys: 'SELECT * FROM analytics_journeys ORDER BY pseudonym',
    timeline_entries: 'SELECT * FROM timeline_entries ORDER BY customer_id, revision',
  };
  const models: Record<string, unknown[]> = {};
  for (const [table, sql] of Object.entries(queries)) models[table] = (await database.query(sql)).rows;
  return models;
}
