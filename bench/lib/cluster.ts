import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { note } from './report.js';
import { trailmap, type Logger } from './trailmap.js';

/** The database the references write to, beside Trailmap's on the same cluster, so neither sees the other's tables. */
export const REFERENCE_DATABASE = 'bench_reference';

export interface Cluster {
  folder: string;
  /** Trailmap's database (migrated). */
  url: string;
  /** The references' database on the same PostgreSQL. */
  referenceUrl: string;
  postmasterPid: number;
  settings: Record<string, string>;
  /** With `statements`: the \`postgres\` database, where pg_stat_statements is installed (it sees every database's statements). */
  statementsUrl?: string;
  stop(): Promise<void>;
}

/**
 * A private PostgreSQL started the way Trailmap starts its embedded one (its defaults: fsync and
 * synchronous_commit on), migrated, with a second database for the references.
 */
export async function startCluster(name: string, options: { dataDir?: string; keep?: boolean; statements?: boolean; logger: Logger }): Promise<Cluster> {
  const { EmbeddedPostgres } = await trailmap.embeddedPostgres();
  const { migrate } = await trailmap.migrate();
  const folder = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), `trailmap-bench-${name}-`)));
  let embedded = await EmbeddedPostgres.start(folder, options.logger);
  try {
    let statementsUrl: string | undefined;
    if (options.statements) {
      // pg_stat_statements must be loaded when the server starts: set it, then start again on the same folder.
      await withClient(embedded.url, async (client) => {
        await client.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
        // Planning time too: a statement PostgreSQL plans on every call shows as plans ≈ calls.
        await client.query(`ALTER SYSTEM SET pg_stat_statements.track_planning = on`);
      });
      await embedded.stop();
      embedded = await EmbeddedPostgres.start(folder, options.logger);
      statementsUrl = withDatabase(embedded.url, 'postgres');
      await withClient(statementsUrl, (client) => client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'));
    }
    await migrate(embedded.url, options.logger);
    const referenceUrl = withDatabase(embedded.url, REFERENCE_DATABASE);
    const admin = new pg.Client({ connectionString: embedded.url });
    await admin.connect();
    let settings: Record<string, string>;
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [REFERENCE_DATABASE]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${REFERENCE_DATABASE}`);
      const { rows } = await admin.query<{ name: string; setting: string }>(
        `SELECT name, setting || coalesce(unit, '') AS setting FROM pg_settings
         WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'max_connections', 'commit_delay', 'max_wal_size', 'checkpoint_timeout')`,
      );
      settings = Object.fromEntries(rows.map((row) => [row.name, row.setting]));
      settings.version = (await admin.query<{ version: string }>('SELECT version()')).rows[0]!.version;
    } finally {
      await admin.end();
    }
    if (settings.fsync !== 'on' || settings.synchronous_commit !== 'on') {
      throw new Error(`durability is off on the benchmark cluster (fsync=${settings.fsync}, synchronous_commit=${settings.synchronous_commit})`);
    }
    const postmasterPid = Number(readFileSync(path.join(folder, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return {
      folder,
      url: embedded.url,
      referenceUrl,
      postmasterPid,
      settings,
      statementsUrl,
      async stop() {
        await embedded.stop();
        if (!options.keep && !options.dataDir) await fs.rm(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await embedded.stop().catch(() => undefined);
    throw error;
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** One connection for `work`, closed after it whatever happens. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A CHECKPOINT before a measured phase, so that no checkpoint started by the previous phase lands in it. */
export async function checkpoint(url: string): Promise<void> {
  await withClient(url, (client) => client.query('CHECKPOINT'));
}

/**
 * VACUUM ANALYZE after a bulk load, then a CHECKPOINT: the measurement sees the steady state of a
 * database whose autovacuum keeps up, not autovacuum's first pass over a table loaded a minute ago.
 */
export async function settleAfterLoad(url: string): Promise<void> {
  await withClient(url, async (client) => {
    await client.query('VACUUM (ANALYZE)');
    await client.query('CHECKPOINT');
  });
}

/** Drops Trailmap's database and makes it anew, migrated (no server may be running on it). */
export async function resetDatabase(cluster: Cluster, logger: Logger): Promise<void> {
  const { migrate } = await trailmap.migrate();
  const url = new URL(cluster.url);
  const database = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  await migrate(cluster.url, logger);
}

/** Cumulative counters of the cluster's work: WAL written (and its full-page images), checkpoints, block reads outside shared_buffers. */
export interface PostgresActivity {
  walBytes: number;
  walFullPageImages: number;
  checkpoints: number;
  blocksRead: number;
  blocksHit: number;
}

export function postgresActivity(url: string): Promise<PostgresActivity> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<Record<keyof PostgresActivity, string>>(
      `SELECT w.wal_bytes AS "walBytes", w.wal_fpi AS "walFullPageImages",
              (SELECT num_timed + num_requested FROM pg_stat_checkpointer) AS checkpoints,
              (SELECT sum(blks_read) FROM pg_stat_database) AS "blocksRead", (SELECT sum(blks_hit) FROM pg_stat_database) AS "blocksHit"
       FROM pg_stat_wal w`,
    );
    const row = rows[0]!;
    return { walBytes: Number(row.walBytes), walFullPageImages: Number(row.walFullPageImages), checkpoints: Number(row.checkpoints), blocksRead: Number(row.blocksRead), blocksHit: Number(row.blocksHit) };
  });
}

/** What the cluster did between two snapshots, per event where that says more. */
export function activityBetween(before: PostgresActivity, after: PostgresActivity, events: number) {
  const delta = (field: keyof PostgresActivity) => after[field] - before[field];
  return {
    walBytesPerEvent: Math.round(delta('walBytes') / events),
    fullPageImagesPer1000Events: Math.round((delta('walFullPageImages') * 1000) / events),
    checkpoints: delta('checkpoints'),
    blocksReadPerEvent: Math.round((delta('blocksRead') / events) * 100) / 100,
    blocksHitPerEvent: Math.round(delta('blocksHit') / events),
  };
}

/** Cumulative pg_stat_statements counters of Trailmap's database (at `databaseUrl`), by statement. */
export type StatementCounters = Map<string, { query: string; calls: number; execMs: number; plans: number; planMs: number; blocksHit: number; blocksRead: number; rows: number }>;

export function statementCounters(statementsUrl: string, databaseUrl: string): Promise<StatementCounters> {
  const database = new URL(databaseUrl).pathname.slice(1);
  return withClient(statementsUrl, async (client) => {
    const { rows } = await client.query<{ id: string; query: string; calls: string; exec: number; plans: string; plan: number; hit: string; read: string; rows: string }>(
      `SELECT s.queryid::text AS id, s.query, s.calls, s.total_exec_time AS exec, s.plans, s.total_plan_time AS plan, s.shared_blks_hit AS hit, s.shared_blks_read AS read, s.rows
       FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1`,
      [database],
    );
    return new Map(
      rows.map((row) => [
        row.id,
        { query: row.query.replace(/\s+/g, ' ').slice(0, 200), calls: Number(row.calls), execMs: row.exec, plans: Number(row.plans), planMs: row.plan, blocksHit: Number(row.hit), blocksRead: Number(row.read), rows: Number(row.rows) },
      ]),
    );
  });
}

/** The statements that took the most of PostgreSQL's execution time between two snapshots, per event of the span. */
export function statementsBetween(before: StatementCounters, after: StatementCounters, events: number, top = 15) {
  const spans = [...after].map(([id, counters]) => {
    const earlier = before.get(id) ?? { calls: 0, execMs: 0, plans: 0, planMs: 0, blocksHit: 0, blocksRead: 0, rows: 0 };
    const calls = counters.calls - earlier.calls;
    return {
      id,
      query: counters.query,
      callsPerEvent: calls / events,
      execMicrosPerEvent: ((counters.execMs - earlier.execMs) * 1000) / events,
      execMicrosPerCall: calls > 0 ? ((counters.execMs - earlier.execMs) * 1000) / calls : 0,
      plansPerCall: calls > 0 ? (counters.plans - earlier.plans) / calls : 0,
      planMicrosPerEvent: ((counters.planMs - earlier.planMs) * 1000) / events,
      blocksHitPerCall: calls > 0 ? (counters.blocksHit - earlier.blocksHit) / calls : 0,
      blocksReadPerCall: calls > 0 ? (counters.blocksRead - earlier.blocksRead) / calls : 0,
      rowsPerCall: calls > 0 ? (counters.rows - earlier.rows) / calls : 0,
    };
  });
  const totalMicrosPerEvent = spans.reduce((sum, span) => sum + span.execMicrosPerEvent, 0);
  const planMicrosPerEvent = spans.reduce((sum, span) => sum + span.planMicrosPerEvent, 0);
  const digits = (value: number) => Math.round(value * 100) / 100;
  return {
    totalMicrosPerEvent: digits(totalMicrosPerEvent),
    planMicrosPerEvent: digits(planMicrosPerEvent),
    statements: spans
      .sort((a, b) => b.execMicrosPerEvent + b.planMicrosPerEvent - (a.execMicrosPerEvent + a.planMicrosPerEvent))
      .slice(0, top)
      .map((span) => ({ ...span, callsPerEvent: digits(span.callsPerEvent), execMicrosPerEvent: digits(span.execMicrosPerEvent), execMicrosPerCall: digits(span.execMicrosPerCall), plansPerCall: digits(span.plansPerCall), planMicrosPerEvent: digits(span.planMicrosPerEvent), blocksHitPerCall: digits(span.blocksHitPerCall), blocksReadPerCall: digits(span.blocksReadPerCall), rowsPerCall: digits(span.rowsPerCall) })),
  };
}

export type StatementSpans = ReturnType<typeof statementsBetween>;

/**
 * With --statements (`statementsUrl` set): the statement counters now, and a function that gives the
 * statements between now and its call, per unit of work done in between. Undefined without.
 */
export async function statementsSince(statementsUrl: string | undefined, databaseUrl: string): Promise<((units: number) => Promise<StatementSpans>) | undefined> {
  if (!statementsUrl) return undefined;
  const before = await statementCounters(statementsUrl, databaseUrl);
  return async (units) => statementsBetween(before, await statementCounters(statementsUrl, databaseUrl), units);
}

/** Prints what `statementsBetween` found: PostgreSQL's statement time a unit of work (an event, a change), and the largest statements. */
export function noteStatements(label: string, unit: string, spans: StatementSpans, top = 12): void {
  const article = /^[aeiou]/.test(unit) ? 'an' : 'a';
  note(`${label}: PostgreSQL's statement time ${article} ${unit}: ${spans.totalMicrosPerEvent} µs (planning ${spans.planMicrosPerEvent} µs more); the largest:`);
  for (const statement of spans.statements.slice(0, top)) {
    note(
      `  ${statement.execMicrosPerEvent} µs/${unit}, ${statement.callsPerEvent} calls/${unit}, ${Math.round(statement.execMicrosPerCall)} µs/call, ${statement.rowsPerCall} rows/call: ` +
        statement.query.replace(/\s+/g, ' ').slice(0, 140),
    );
  }
}

/** Each table's rows, dead rows, updates (and how many were HOT: no new index entries), autovacuum runs and size, for --statements. */
export function tableCounters(url: string) {
  return withClient(url, async (client) => {
    const { rows } = await client.query(
      `SELECT relname AS table, n_live_tup AS live, n_dead_tup AS dead, n_tup_ins AS inserted, n_tup_upd AS updated, n_tup_hot_upd AS "hotUpdated",
              n_tup_del AS deleted, autovacuum_count AS autovacuums, autoanalyze_count AS autoanalyzes,
              pg_total_relation_size(relid) / 1048576 AS "totalMiB", pg_indexes_size(relid) / 1048576 AS "indexMiB"
       FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC`,
    );
    return rows.map((row: Record<string, string>) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, key === 'table' ? value : Number(value)])));
  });
}
