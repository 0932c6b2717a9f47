import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
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
  stop(): Promise<void>;
}

/**
 * A private PostgreSQL started the way Trailmap starts its embedded one (its defaults: fsync and
 * synchronous_commit on), migrated, with a second database for the references.
 */
export async function startCluster(name: string, options: { dataDir?: string; keep?: boolean; logger: Logger }): Promise<Cluster> {
  const { EmbeddedPostgres } = await trailmap.embeddedPostgres();
  const { migrate } = await trailmap.migrate();
  const folder = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), `trailmap-bench-${name}-`)));
  const embedded = await EmbeddedPostgres.start(folder, options.logger);
  try {
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
