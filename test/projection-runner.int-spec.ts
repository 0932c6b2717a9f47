import { randomUUID } from 'node:crypto';
import { createCatalog, defaultEventTypes } from '../src/domain/catalog/index.js';
import type { CustomerEvent } from '../src/domain/customer-event.js';
import { Database } from '../src/modules/database/database.js';
import { encodePosition } from '../src/modules/event-store/event-store.port.js';
import { Notifications } from '../src/modules/event-store/postgres/notifications.js';
import { PostgresEventStore } from '../src/modules/event-store/postgres/postgres-event-store.js';
import { KeyVault } from '../src/modules/privacy/key-vault.js';
import type { Projection, ProjectionTransaction } from '../src/projections/projection.js';
import { ProjectionRunner } from '../src/projections/runner/projection-runner.js';
import { newEvent } from './event-store/contract.js';
import { createTestDatabase, silentLogger, type TestDatabase } from './support/database.js';

/** Counts events per customer; refuses "poison" events; can lose its connection mid-batch once. */
class CountingProjection implements Projection {
  readonly tables: readonly string[];
  readonly personalData = false;
  readonly liveGatherMs = 10;
  failMidBatchOnce = false;
  /** Runs once, at the start of the next batch (before its writes). */
  beforeNextBatch?: () => Promise<void>;

  constructor(
    readonly name: string,
    private readonly refusesPoison = true,
  ) {
    this.tables = [`${name.replaceAll('-', '_')}_counts`];
  }

  async apply(events: readonly CustomerEvent[], { client, table }: ProjectionTransaction): Promise<void> {
    const hook = this.beforeNextBatch;
    this.beforeNextBatch = undefined;
    await hook?.();
    for (const event of events) {
      if (event.properties.poison && this.refusesPoison) throw new Error(`cannot count ${event.id}`);
      await client.query(
        `INSERT INTO ${table(this.tables[0]!)} (customer_id, events) VALUES ($1, 1)
         ON CONFLICT (customer_id) DO UPDATE SET events = ${table(this.tables[0]!)}.events + 1`,
        [event.customerId],
      );
      if (this.failMidBatchOnce) {
        this.failMidBatchOnce = false;
        throw Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' });
      }
    }
  }
}

/** Counts events per customer and keeps which events it saw, in a table it only appends to. */
class AppendingProjection implements Projection {
  readonly tables: readonly string[];
  readonly appendOnlyTables: readonly string[];
  readonly personalData = false;
  readonly liveGatherMs = 10;
  /** The indexes of each twin as the rebuild's first batch found them. */
  twinIndexes?: Record<string, string[]>;
  /** Batches applied to the live tables. */
  liveBatches = 0;

  constructor(readonly name: string) {
    const prefix = name.replaceAll('-', '_');
    this.tables = [`${prefix}_counts`, `${prefix}_seen`];
    this.appendOnlyTables = [`${prefix}_seen`];
  }

  async apply(events: readonly CustomerEvent[], { client, table, live }: ProjectionTransaction): Promise<void> {
    const [counts, seen] = this.tables.map((name) => table(name)) as [string, string];
    if (live) this.liveBatches += 1;
    if (!live && !this.twinIndexes) {
      this.twinIndexes = Object.fromEntries(await Promise.all([counts, seen].map(async (twin) => [twin, (await indexesOf(client, twin)).map(({ definition }) => definition)])));
    }
    for (const event of events) {
      await client.query(`INSERT INTO ${counts} (customer_id, events) VALUES ($1, 1) ON CONFLICT (customer_id) DO UPDATE SET events = ${counts}.events + 1`, [event.customerId]);
      await client.query(`INSERT INTO ${seen} (customer_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [event.customerId, event.id]);
    }
  }
}

/** A table's indexes: name, and definition without the name and table. */
async function indexesOf(client: { query: Database['query'] }, table: string) {
  const { rows } = await client.query<{ name: string; definition: string; primary: boolean }>(
    `SELECT index.relname AS name, regexp_replace(pg_get_indexdef(entry.indexrelid), '^.* USING ', '') AS definition, entry.indisprimary AS primary
     FROM pg_index AS entry JOIN pg_class AS index ON index.oid = entry.indexrelid WHERE entry.indrelid = $1::regclass ORDER BY 1`,
    [table],
  );
  return rows;
}

describe('the projection runner', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let store: PostgresEventStore;
  let control: Notifications;
  const runners: ProjectionRunner[] = [];
  const catalog = createCatalog(defaultEventTypes);

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 10);
    store = new PostgresEventStore(database);
    control = new Notifications(database, 'trailmap_projection_control');
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((runner) => runner.stop()));
  });

  afterAll(async () => {
    await control?.close();
    await store?.close();
    await database?.end();
    await testDatabase?.drop();
  });

  async function projectionNamed(prefix: string, refusesPoison = true) {
    const projection = new CountingProjection(`${prefix}-${randomUUID().slice(0, 6)}`, refusesPoison);
    await database.query(`CREATE TABLE ${projection.tables[0]} (customer_id text PRIMARY KEY, events integer NOT NULL)`);
    return projection;
  }

  /** An appending projection with its tables: the counts with a secondary index, the append-only table with one. */
  async function appendingProjectionNamed(prefix: string) {
    const projection = new AppendingProjection(`${prefix}-${randomUUID().slice(0, 6)}`);
    const [counts, seen] = projection.tables as [string, string];
    await database.query(`CREATE TABLE ${counts} (customer_id text PRIMARY KEY, events integer NOT NULL)`);
    await database.query(`CREATE INDEX ${counts}_busiest ON ${counts} (events DESC)`);
    await database.query(`CREATE TABLE ${seen} (customer_id text NOT NULL, event_id uuid NOT NULL, PRIMARY KEY (customer_id, event_id))`);
    await database.query(`CREATE INDEX ${seen}_event ON ${seen} (event_id)`);
    return { projection, counts, seen };
  }

  /** Events of customer streams in the log, as the checkpoint counts them. */
  async function customerEvents() {
    return (await database.query<{ total: string }>("SELECT count(*) AS total FROM event_store_events WHERE stream LIKE 'customer-%'")).rows[0]!.total;
  }

  function run(projection: Projection, runnerDatabase = database, takeoverIntervalMs = 100) {
    const runner = new ProjectionRunner(projection, {
      database: runnerDatabase,
      store,
      catalog,
      keys: new KeyVault(runnerDatabase, Buffer.alloc(32)),
      logger: silentLogger,
      onControl: (listener) => control.onNotification(listener),
      batchSize: 50,
      takeoverIntervalMs,
    });
    runner.start();
    runners.push(runner);
    return runner;
  }

  async function checkpoint(name: string) {
    return (await database.query<{ state: string; position: string | null; processed: string; last_error: string | null; last_error_event: string | null }>(
      'SELECT state, position, processed, last_error, last_error_event FROM projection_checkpoints WHERE name = $1',
      [name],
    )).rows[0];
  }

  /**
   * The position of the last event in this file's database. Tests here start projections from it; the
   * store's head stops below the cluster's oldest open transaction, which another test file may hold,
   * and would start them before events of this file that they must not count.
   */
  async function committedHead(): Promise<string | null> {
    const { rows } = await database.query<{ transaction_id: string; global_position: string }>(
      'SELECT transaction_id, global_position FROM event_store_events ORDER BY transaction_id DESC, global_position DESC LIMIT 1',
    );
    return rows[0] ? encodePosition(rows[0].transaction_id, rows[0].global_position) : null;
  }

  async function until<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  const counted = async (projection: CountingProjection) =>
    Number((await database.query<{ total: string }>(`SELECT coalesce(sum(events), 0) AS total FROM ${projection.tables[0]}`)).rows[0]!.total);

  async function appendTo(customer: string, count: number, properties: Record<string, unknown> = {}) {
    const events = Array.from({ length: count }, () => newEvent('Page Viewed', { properties: { path: '/', ...properties } }));
    await store.append(`customer-${customer}`, events, { expectedRevision: 'any' });
    return events;
  }

  it('stops a projection in FAILED on the event its handler refuses, keeps what came before, and lets the others go on', async () => {
    const before = await committedHead();
    const failing = await projectionNamed('failing');
    const healthy = await projectionNamed('healthy', false);
    await database.query('INSERT INTO projection_checkpoints (name, position) VALUES ($1, $3), ($2, $3)', [failing.name, healthy.name, before ?? null]);
    const customer = randomUUID();
    await appendTo(customer, 3);
    const [poison] = await appendTo(customer, 1, { poison: true });
    await appendTo(customer, 2);
    run(failing);
    run(healthy);

    const failed = await until(async () => {
      const row = await checkpoint(failing.name);
      return row?.state === 'FAILED' && row;
    });
    expect(failed.last_error_event).toBe(poison!.id);
    expect(failed.last_error).toContain(`cannot count ${poison!.id}`);
    expect(Number(failed.processed)).toBe(3);
    expect(await counted(failing)).toBe(3);
    await until(async () => (await counted(healthy)) === 6);
  });

  it('applies a batch exactly once when the transaction fails mid-batch and is redelivered', async () => {
    const before = await committedHead();
    const projection = await projectionNamed('redelivered');
    await database.query('INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2)', [projection.name, before ?? null]);
    projection.failMidBatchOnce = true;
    const customers = [randomUUID(), randomUUID()];
    for (const customer of customers) await appendTo(customer, 40);
    run(projection);
    await until(async () => (await checkpoint(projection.name))?.processed === '80');
    expect(await counted(projection)).toBe(80);
  });

  it('rolls a batch back when its checkpoint moved under it, though its COMMIT travels with its writes, and goes on from there', async () => {
    const before = await committedHead();
    const projection = await projectionNamed('moved');
    await database.query('INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2)', [projection.name, before ?? null]);
    await appendTo(randomUUID(), 5);
    const head = await committedHead();
    // Another runner applied the batch meanwhile: the checkpoint is at the head when this one writes its counts.
    let moved = false;
    projection.beforeNextBatch = async () => {
      await database.query('UPDATE projection_checkpoints SET position = $2 WHERE name = $1', [projection.name, head]);
      moved = true;
    };
    run(projection);
    await until(async () => moved);
    await appendTo(randomUUID(), 2);
    await until(async () => (await checkpoint(projection.name))?.processed === '2');
    expect(await counted(projection)).toBe(2);
    expect((await checkpoint(projection.name))?.state).toBe('LIVE');
  });

  it('runs on one instance at a time and fails over when the active one loses its connection', async () => {
    const before = await committedHead();
    const projection = await projectionNamed('failover');
    await database.query('INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2)', [projection.name, before ?? null]);
    const instances = [new Database(testDatabase.url, 4), new Database(testDatabase.url, 4)];
    try {
      instances.forEach((instance) => run(projection, instance, 200));
      const customer = randomUUID();
      await appendTo(customer, 30);
      await until(async () => (await counted(projection)) === 30);
      const holders = await database.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND pid IN
           (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)`,
        [`trailmap-projection-${projection.name}`],
      );
      expect(holders.rows).toHaveLength(1);

      const killedAt = Date.now();
      await database.query('SELECT pg_terminate_backend($1)', [holders.rows[0]!.pid]);
      await appendTo(customer, 30);
      await until(async () => (await counted(projection)) === 60);
      const failoverMs = Date.now() - killedAt;
      expect(failoverMs).toBeLessThan(5_000);
      expect(await counted(projection)).toBe(60);
    } finally {
      await Promise.all(runners.splice(0).map((runner) => runner.stop()));
      await Promise.all(instances.map((instance) => instance.end()));
    }
  });

  it('fills a rebuild’s twins with their primary keys only, append-only ones with no index, and swaps in every index under its name', async () => {
    const { projection, counts, seen } = await appendingProjectionNamed('indexed');
    const indexes = async () => [...(await indexesOf(database, counts)), ...(await indexesOf(database, seen))];
    const before = await indexes();
    await database.query('INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2)', [projection.name, await committedHead()]);
    const customers = Array.from({ length: 3 }, () => randomUUID());
    for (const customer of customers) await appendTo(customer, 40);
    run(projection);
    await until(async () => (await checkpoint(projection.name))?.processed === '120');

    await database.query('UPDATE projection_checkpoints SET rebuild_requested_at = now() WHERE name = $1', [projection.name]);
    await database.query("SELECT pg_notify('trailmap_projection_control', $1)", [projection.name]);
    await until(async () => {
      const { rows } = await database.query<{ done: boolean }>(
        'SELECT NOT rebuilding AND rebuild_requested_at IS NULL AND twin IS NULL AS done FROM projection_checkpoints, to_regclass($2) AS twin WHERE name = $1',
        [projection.name, `${counts}__rebuild`],
      );
      return rows[0]?.done;
    }, 30_000);

    expect(projection.twinIndexes).toEqual({ [`${counts}__rebuild`]: ['btree (customer_id)'], [`${seen}__rebuild`]: [] });
    expect(await indexes()).toEqual(before);
    const { rows } = await database.query<{ customer_id: string; events: number; seen: number }>(
      `SELECT customer_id, events, (SELECT count(*)::int FROM ${seen} WHERE ${seen}.customer_id = ${counts}.customer_id) AS seen
       FROM ${counts} WHERE customer_id = ANY($1::text[]) ORDER BY 1`,
      [customers],
    );
    expect(rows).toEqual([...customers].sort().map((customer_id) => ({ customer_id, events: 40, seen: 40 })));
  }, 60_000);

  it('builds a projection new to a log that already holds events as a rebuild: into twins, none of it applied live, then swapped in', async () => {
    const { projection, counts, seen } = await appendingProjectionNamed('late');
    const customers = Array.from({ length: 3 }, () => randomUUID());
    for (const customer of customers) await appendTo(customer, 40);
    const all = await customerEvents();
    // A transaction open elsewhere in the cluster (another test file's) hides these events from every reader until it ends;
    // a build started meanwhile would finish below them and apply the rest live. It starts once they can all be read.
    const last = await committedHead();
    await until(async () => (await store.headPosition()) === last, 30_000);

    run(projection);
    await until(async () => {
      const { rows } = await database.query<{ done: boolean }>(
        "SELECT state = 'LIVE' AND NOT rebuilding AND rebuild_requested_at IS NULL AND processed = $2 AS done FROM projection_checkpoints WHERE name = $1",
        [projection.name, all],
      );
      return rows[0]?.done;
    }, 30_000);

    expect(projection.twinIndexes).toEqual({ [`${counts}__rebuild`]: ['btree (customer_id)'], [`${seen}__rebuild`]: [] });
    expect(projection.liveBatches).toBe(0);
    expect((await indexesOf(database, counts)).map(({ name }) => name)).toEqual([`${counts}_busiest`, `${counts}_pkey`]);
    const { rows } = await database.query<{ customer_id: string; events: number }>(`SELECT * FROM ${counts} WHERE customer_id = ANY($1::text[]) ORDER BY 1`, [customers]);
    expect(rows).toEqual([...customers].sort().map((customer_id) => ({ customer_id, events: 40 })));

    // From then on it is live.
    await appendTo(customers[0]!, 1);
    await until(async () => projection.liveBatches > 0 && (await database.query(`SELECT 1 FROM ${counts} WHERE customer_id = $1 AND events = 41`, [customers[0]])).rows.length === 1);
  }, 60_000);

  it('resumes an interrupted rebuild where it stopped and swaps in the same content as a clean build', async () => {
    const projection = await projectionNamed('rebuilt', false);
    await database.query('INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2)', [projection.name, await committedHead()]);
    const customers = Array.from({ length: 5 }, () => randomUUID());
    for (const customer of customers) await appendTo(customer, 60);
    const first = run(projection);
    await until(async () => (await checkpoint(projection.name))?.processed === '300');

    await database.query('UPDATE projection_checkpoints SET rebuild_requested_at = now() WHERE name = $1', [projection.name]);
    await database.query("SELECT pg_notify('trailmap_projection_control', $1)", [projection.name]);
    // Interrupt the rebuild part-way: the twin table and the rebuild checkpoint stay behind.
    await until(async () => {
      const { rows } = await database.query<{ rebuild_processed: string | null }>('SELECT rebuild_processed FROM projection_checkpoints WHERE name = $1', [projection.name]);
      return Number(rows[0]?.rebuild_processed ?? 0) > 0;
    });
    await first.stop();
    const interrupted = (await database.query<{ rebuilding: boolean; rebuild_position: string | null }>(
      'SELECT rebuilding, rebuild_position FROM projection_checkpoints WHERE name = $1',
      [projection.name],
    )).rows[0]!;
    expect(interrupted.rebuilding).toBe(true);

    run(projection);
    const all = await customerEvents();
    await until(async () => {
      const row = await checkpoint(projection.name);
      return row?.state === 'LIVE' && row.processed === all && row;
    }, 30_000);
    const { rows } = await database.query<{ customer_id: string; events: number }>(`SELECT * FROM ${projection.tables[0]} WHERE customer_id = ANY($1::text[]) ORDER BY 1`, [customers]);
    expect(rows).toEqual([...customers].sort().map((customer_id) => ({ customer_id, events: 60 })));
  }, 60_000);
});
