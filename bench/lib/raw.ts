import pg from 'pg';
import { customerOf, referencePayload } from './workload.js';
import { monotonicMs } from './stats.js';

/** The reference table: shaped like event_store_events (same columns, keys and defaults), without Trailmap's triggers. */
export async function createRawTable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('DROP TABLE IF EXISTS raw_events');
    await client.query(`
      CREATE TABLE raw_events (
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        global_position bigint GENERATED ALWAYS AS IDENTITY,
        stream text NOT NULL,
        revision bigint NOT NULL,
        id uuid NOT NULL,
        type text NOT NULL,
        data json NOT NULL,
        metadata json NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (transaction_id, global_position),
        UNIQUE (stream, revision),
        UNIQUE (id)
      )`);
  } finally {
    await client.end();
  }
}

export interface RawResult<M = undefined> {
  /** What `measure` returned at the end of the run, before the connections closed (their backends' CPU is then still countable). */
  measured?: M;
  clients: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** Per statement (transaction), ms; only for single-row runs. */
  latencies?: number[];
}

/**
 * `clients` connections, each inserting `perTransaction` rows per statement (one implicit transaction
 * each, committed with fsync) for `seconds`. Each client writes its own streams of a population of
 * `population`, with revisions it counts itself, so no two clients contend on a stream.
 */
export async function rawInsert<M = undefined>(
  url: string,
  { clients, perTransaction, seconds, population = 10_000, measure }: { clients: number; perTransaction: number; seconds: number; population?: number; measure?: () => M },
): Promise<RawResult<M>> {
  const connections = await Promise.all(
    Array.from({ length: clients }, async () => {
      const client = new pg.Client({ connectionString: url, application_name: 'bench-raw' });
      await client.connect();
      return client;
    }),
  );
  const single = perTransaction === 1;
  const latencies: number[] = [];
  let events = 0;
  const text = insertStatement(perTransaction);
  const deadline = monotonicMs() + seconds * 1000;
  const started = monotonicMs();
  let measured: M | undefined;
  try {
    await Promise.all(
      connections.map(async (client, index) => {
        const revisions = new Map<string, number>();
        const streamsOfClient = Math.max(1, Math.floor(population / clients));
        while (monotonicMs() < deadline) {
          const values: unknown[] = [];
          for (let row = 0; row < perTransaction; row++) {
            const customer = customerOf(population, index * streamsOfClient + Math.floor(Math.random() * streamsOfClient));
            const stream = `customer-${customer}`;
            const revision = (revisions.get(stream) ?? -1) + 1;
            revisions.set(stream, revision);
            const { id, type, data, metadata } = referencePayload(customer);
            values.push(stream, revision, id, type, data, metadata);
          }
          const sent = monotonicMs();
          await client.query(text, values);
          if (single) latencies.push(monotonicMs() - sent);
          events += perTransaction;
        }
      }),
    );
    measured = measure?.();
  } finally {
    await Promise.all(connections.map((client) => client.end()));
  }
  const elapsed = (monotonicMs() - started) / 1000;
  return { measured, clients, events, seconds: elapsed, eventsPerSecond: events / elapsed, ...(single && { latencies }) };
}

function insertStatement(rows: number): string {
  const tuples = Array.from({ length: rows }, (_, row) => `($${row * 6 + 1}, $${row * 6 + 2}, $${row * 6 + 3}, $${row * 6 + 4}, $${row * 6 + 5}, $${row * 6 + 6})`);
  return `INSERT INTO raw_events (stream, revision, id, type, data, metadata) VALUES ${tuples.join(', ')}`;
}

/**
 * The physical limit of a replay: a keyset scan of `table` in global order, 1,000 rows a page,
 * every column read and the JSON parsed (node-pg parses json), nothing else done with them.
 */
export async function keysetScan(url: string, table = 'event_store_events', page = 1_000): Promise<{ events: number; seconds: number; eventsPerSecond: number; bytes: number }> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-scan' });
  await client.connect();
  let events = 0;
  let bytes = 0;
  let after: [string, string] = ['0', '0'];
  const started = monotonicMs();
  try {
    for (;;) {
      const { rows } = await client.query<{ transaction_id: string; global_position: string; data: object; metadata: object }>(
        `SELECT transaction_id, global_position, stream, revision, id, type, data, metadata, recorded_at FROM ${table}
         WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
         ORDER BY transaction_id, global_position LIMIT $3`,
        [after[0], after[1], page],
      );
      if (rows.length === 0) break;
      events += rows.length;
      const last = rows.at(-1)!;
      after = [last.transaction_id, last.global_position];
      if (events <= page) bytes = JSON.stringify(rows[0]!.data).length + JSON.stringify(rows[0]!.metadata).length;
      if (rows.length < page) break;
    }
  } finally {
    await client.end();
  }
  const seconds = (monotonicMs() - started) / 1000;
  return { events, seconds, eventsPerSecond: events / seconds, bytes };
}
