import { createHash } from 'node:crypto';
import type { Database } from '../../src/modules/database/database.js';
import { readModels } from './projections.js';

export interface LogCheck {
  /** Ids sent and acknowledged (or retried until acknowledged) that the log does not hold. */
  missing: string[];
  /** Ids the log holds more than once. */
  duplicated: string[];
  /** Events in the same streams that nobody sent (Trailmap's own `Identity Linked` events aside). */
  unexpected: { id: string; type: string; stream: string }[];
  /** Streams whose revisions are not exactly 0..n-1. */
  gaps: { stream: string; events: number; first: number; last: number }[];
  /** Events in the streams the ids landed in. */
  stored: number;
}

/** Whether each expected (stored) event id is in the log exactly once, with nothing else and no gap in those streams. */
export async function checkLog(database: Database, expectedIds: Iterable<string>): Promise<LogCheck> {
  const expected = [...new Set(expectedIds)];
  const { rows: counted } = await database.query<{ id: string; copies: number }>(
    'SELECT id::text, count(*)::int AS copies FROM event_store_events WHERE id = ANY($1::uuid[]) GROUP BY id',
    [expected],
  );
  const copies = new Map(counted.map((row) => [row.id, row.copies]));
  const streams = `SELECT DISTINCT stream FROM event_store_events WHERE id = ANY($1::uuid[])`;
  const { rows: unexpected } = await database.query<{ id: string; type: string; stream: string }>(
    `SELECT id::text, type, stream FROM event_store_events
     WHERE stream IN (${streams}) AND NOT (id = ANY($1::uuid[])) AND NOT (type = 'Identity Linked' AND metadata->>'source' = 'trailmap')`,
    [expected],
  );
  const { rows: gaps } = await database.query<{ stream: string; events: number; first: number; last: number }>(
    `SELECT stream, count(*)::int AS events, min(revision)::int AS first, max(revision)::int AS last
     FROM event_store_events WHERE stream IN (${streams})
     GROUP BY stream HAVING min(revision) <> 0 OR max(revision) <> count(*) - 1`,
    [expected],
  );
  const { rows: total } = await database.query<{ stored: number }>(`SELECT count(*)::int AS stored FROM event_store_events WHERE stream IN (${streams})`, [expected]);
  return {
    missing: expected.filter((id) => !copies.has(id)),
    duplicated: [...copies].filter(([, count]) => count > 1).map(([id]) => id),
    unexpected,
    gaps,
    stored: total[0]!.stored,
  };
}

/** What a rejected request must leave as it was: the log, keys, links, checkpoints and every read model. */
export async function stateDigest(database: Database): Promise<Record<string, string>> {
  const digest = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
  const one = async (sql: string) => (await database.query(sql)).rows;
  const models = await readModels(database);
  const digests: Record<string, string> = {
    event_store_events: digest(await one('SELECT count(*)::int AS events, max(global_position)::text AS head, md5(string_agg(id::text || type || data::text, \',\' ORDER BY global_position)) AS content FROM event_store_events')),
    customer_keys: digest(await one('SELECT customer_id, destroyed_at FROM customer_keys ORDER BY customer_id')),
    identity_links: digest(await one('SELECT anonymous_hash, customer_id FROM identity_links ORDER BY anonymous_hash')),
    projection_checkpoints: digest(await one('SELECT name, position, processed, state, rebuilding FROM projection_checkpoints ORDER BY name')),
  };
  for (const [table, rows] of Object.entries(models)) digests[table] = `${rows.length}:${digest(rows)}`;
  return digests;
}
