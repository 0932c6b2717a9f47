import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { Database } from '../src/modules/database/database.js';
import { migrate } from '../src/modules/database/migrate.js';
import { migrations } from '../src/modules/database/migrations/index.js';
import { EventLogAsWritten1764145200000 } from '../src/modules/event-store/postgres/event-log-json.migration.js';
import { PostgresEventStore } from '../src/modules/event-store/postgres/postgres-event-store.js';
import { JourneysPseudonymizedByTheJourney1764145500000 } from '../src/projections/journey/journeys-pseudonymized.migration.js';
import { ProfileBookkeepingApart1764145400000 } from '../src/projections/profile/profile-bookkeeping.migration.js';
import { ProjectionStatesAsWritten1764145300000 } from '../src/projections/states-as-written.migration.js';
import { createTestDatabase, silentLogger, type TestDatabase } from './support/database.js';
import { ServerProcess } from './support/process.js';

async function appliedMigrations(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ name: string }>('SELECT name FROM trailmap_migrations ORDER BY id')).rows.map((row) => row.name);
  } finally {
    await client.end();
  }
}

/** A connection to a database migrated up to, not including, `next`. */
async function migratedUntil(url: string, next: (typeof migrations)[number]): Promise<DataSource> {
  const before = new DataSource({ type: 'postgres', url, migrations: migrations.slice(0, migrations.indexOf(next)), migrationsTableName: 'trailmap_migrations' });
  await before.initialize();
  await before.runMigrations({ transaction: 'each' });
  return before;
}

const PROFILE_TABLES = ['customer_profiles', 'customer_profiles__rebuild'];

/** Stores `profile` as `type` in `customer_profiles` and in a rebuild twin beside it, as a rebuild under way has it. */
async function storeProfileWithTwin(before: DataSource, profile: object, type: 'json' | 'jsonb'): Promise<void> {
  await before.query('CREATE TABLE customer_profiles__rebuild (LIKE customer_profiles INCLUDING ALL)');
  for (const table of PROFILE_TABLES) {
    await before.query(`INSERT INTO ${table} (customer_id, profile) VALUES ('ada', $1::${type})`, [JSON.stringify(profile)]);
  }
}

/** Runs `work` on the migrated database, and closes it. */
async function inMigrated<T>(url: string, work: (database: Database) => Promise<T>): Promise<T> {
  const database = new Database(url, 2, 'migration-test');
  try {
    return await work(database);
  } finally {
    await database.end();
  }
}

/** The names of `first` and of every migration after it. */
function namesFrom(first: (typeof migrations)[number]) {
  return migrations.slice(migrations.indexOf(first)).map((migration) => new migration().name);
}

describe('schema migrations', () => {
  const databases: TestDatabase[] = [];
  const emptyDatabase = async () => {
    const database = await createTestDatabase({ migrated: false });
    databases.push(database);
    return database;
  };
  afterAll(async () => {
    await Promise.all(databases.map((database) => database.drop()));
  });

  it('are applied once when two instances migrate at the same moment', async () => {
    const { url } = await emptyDatabase();
    const results = await Promise.all([migrate(url, silentLogger), migrate(url, silentLogger), migrate(url, silentLogger)]);
    const everyName = migrations.map((migration) => new migration().name);
    expect(results.flat().sort()).toEqual([...everyName].sort());
    expect(await appliedMigrations(url)).toEqual(everyName);
  });

  it('keep the events of a log written as jsonb unchanged when it becomes json, and appends go on after them', async () => {
    const { url } = await emptyDatabase();
    const before = await migratedUntil(url, EventLogAsWritten1764145200000);
    const written = [
      { id: randomUUID(), data: { userId: 'ada', properties: { zeta: 1, alpha: [1.5, 'é', null], nested: { b: true, a: 'x' } }, traits: {}, context: {} } },
      { id: randomUUID(), data: { userId: 'ada', properties: { title: 'emoji 😀 and "quotes"' }, traits: {}, context: {} } },
    ];
    for (const [revision, { id, data }] of written.entries()) {
      await before.query(
        `INSERT INTO event_store_events (stream, revision, id, type, data, metadata) VALUES ('customer-ada', $1, $2, 'Page Viewed', $3::jsonb, $4::jsonb)`,
        [revision, id, JSON.stringify(data), JSON.stringify({ occurredAt: '2026-11-01T00:00:00.000Z', source: 'segment' })],
      );
    }
    await before.destroy();

    expect(await migrate(url, silentLogger)).toEqual(namesFrom(EventLogAsWritten1764145200000));
    await inMigrated(url, async (database) => {
      const store = new PostgresEventStore(database);
      try {
        const { rows } = await database.query<{ column_name: string; data_type: string }>(
          "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'event_store_events' AND column_name IN ('data', 'metadata') ORDER BY column_name",
        );
        expect(rows).toEqual([
          { column_name: 'data', data_type: 'json' },
          { column_name: 'metadata', data_type: 'json' },
        ]);
        await store.append('customer-ada', [{ id: randomUUID(), type: 'Page Viewed', data: { userId: 'ada', properties: {}, traits: {}, context: {} }, metadata: { occurredAt: '2026-11-02T00:00:00.000Z', schemaVersion: 1 } }], { expectedRevision: 1 });
        // The stream, not readAll: the log's read horizon is the cluster's oldest open transaction, which other test files' hold back.
        const events = [];
        for await (const event of store.readStream('customer-ada')) events.push(event);
        expect(events.map((event) => [event.id, event.revision, event.data])).toEqual([
          ...written.map(({ id, data }, revision) => [id, revision, data]),
          [expect.any(String), 2, { userId: 'ada', properties: {}, traits: {}, context: {} }],
        ]);
      } finally {
        await store.close();
      }
    });
  });

  it('keep the profiles and journey states written as jsonb, a rebuild twin under way included, when they become json', async () => {
    const { url } = await emptyDatabase();
    const before = await migratedUntil(url, ProjectionStatesAsWritten1764145300000);
    const profile = {
      customerId: 'ada',
      version: 3,
      traits: { name: 'Ada', nested: { b: true, a: 'é 😀 "x"' } },
      metrics: { events: 4, revenue: 12.5 },
      sessions: { windows: [] },
      traitsUpdatedAt: {},
      supportTickets: { byId: {}, openWithoutId: 0 },
      appliedRevisions: [['ada', 3]],
    };
    const state = { stage: 'CONVERSION', enteredAt: '2026-11-01T00:00:00.000Z', cart: null };
    await storeProfileWithTwin(before, profile, 'jsonb');
    await before.query(`INSERT INTO journey_states (customer_id, state, stage) VALUES ('ada', $1::jsonb, 'CONVERSION'), ('bob', NULL, NULL)`, [JSON.stringify(state)]);
    await before.destroy();

    expect(await migrate(url, silentLogger)).toEqual(namesFrom(ProjectionStatesAsWritten1764145300000));
    await inMigrated(url, async (database) => {
      const { rows: columns } = await database.query<{ table_name: string; data_type: string }>(
        `SELECT table_name, data_type FROM information_schema.columns
         WHERE (table_name LIKE 'customer_profiles%' AND column_name = 'profile') OR (table_name = 'journey_states' AND column_name = 'state')
         ORDER BY table_name`,
      );
      expect(columns).toEqual([
        { table_name: 'customer_profiles', data_type: 'json' },
        { table_name: 'customer_profiles__rebuild', data_type: 'json' },
        { table_name: 'journey_states', data_type: 'json' },
      ]);
      for (const table of PROFILE_TABLES) {
        // Split in two by the migration after this one.
        const { rows } = await database.query<{ profile: object; bookkeeping: object }>(`SELECT profile, bookkeeping FROM ${table}`);
        expect(rows.map((row) => ({ ...row.profile, ...row.bookkeeping }))).toEqual([profile]);
      }
      expect((await database.query('SELECT customer_id, state FROM journey_states ORDER BY customer_id')).rows).toEqual([
        { customer_id: 'ada', state },
        { customer_id: 'bob', state: null },
      ]);
    });
  });

  it("split the stored profiles, a rebuild twin under way included, into the served part and the projection's bookkeeping", async () => {
    const { url } = await emptyDatabase();
    const before = await migratedUntil(url, ProfileBookkeepingApart1764145400000);
    const served = { customerId: 'ada', version: 3, forgotten: false, traits: { name: 'Ada', nested: { a: 'é 😀 "x"' } }, metrics: { events: 4, sessions: 1 } };
    const bookkeeping = {
      traitsUpdatedAt: { name: '2026-11-01T00:00:00.000Z' },
      sessions: { windows: [{ from: '2026-11-01T00:00:00.000Z', to: '2026-11-01T00:05:00.000Z' }], archived: 0, archivedUntil: null },
      supportTickets: { byId: { 't-1': 'OPEN' }, openWithoutId: 0 },
      appliedRevisions: [['ada', 3]],
    };
    await storeProfileWithTwin(before, { ...served, ...bookkeeping }, 'json');
    await before.destroy();

    expect(await migrate(url, silentLogger)).toEqual(namesFrom(ProfileBookkeepingApart1764145400000));
    await inMigrated(url, async (database) => {
      for (const table of PROFILE_TABLES) {
        expect((await database.query(`SELECT profile, bookkeeping FROM ${table}`)).rows).toEqual([{ profile: served, bookkeeping }]);
        await expect(database.query(`INSERT INTO ${table} (customer_id, profile) VALUES ('bob', '{}')`)).rejects.toThrow(/bookkeeping.*not-null/);
      }
    });
  });

  it('keep the pseudonymized stages when the journey projection takes the journeys over, drop an analytics twin of them, and ask for a journey rebuild', async () => {
    const { url } = await emptyDatabase();
    const before = await migratedUntil(url, JourneysPseudonymizedByTheJourney1764145500000);
    await before.query(`INSERT INTO analytics_journeys (pseudonym, state, merged_into) VALUES ('p-ada', $1::jsonb, NULL), ('anon:p-visitor', $2::jsonb, 'p-ada'), ('anon:p-early', NULL, 'p-ada')`, [
      JSON.stringify({ customerId: 'p-ada', stage: 'RETENTION' }),
      JSON.stringify({ customerId: 'anon:p-visitor', stage: 'CONVERSION', mergedInto: 'p-ada' }),
    ]);
    await before.query('CREATE TABLE analytics_journeys__rebuild (LIKE analytics_journeys INCLUDING ALL)');
    await before.query("INSERT INTO projection_checkpoints (name, position) VALUES ('journey-stage', '7'), ('analytics', '7')");
    await before.destroy();

    expect(await migrate(url, silentLogger)).toEqual(namesFrom(JourneysPseudonymizedByTheJourney1764145500000));
    await inMigrated(url, async (database) => {
      expect((await database.query('SELECT * FROM analytics_journeys ORDER BY pseudonym')).rows).toEqual([
        { pseudonym: 'anon:p-early', merged_into: 'p-ada', stage: null },
        { pseudonym: 'anon:p-visitor', merged_into: 'p-ada', stage: 'CONVERSION' },
        { pseudonym: 'p-ada', merged_into: null, stage: 'RETENTION' },
      ]);
      expect((await database.query("SELECT to_regclass('analytics_journeys__rebuild') AS twin")).rows).toEqual([{ twin: null }]);
      const { rows } = await database.query<{ name: string; asked: boolean }>('SELECT name, rebuild_requested_at IS NOT NULL AS asked FROM projection_checkpoints ORDER BY name');
      expect(rows).toEqual([
        { name: 'analytics', asked: false },
        { name: 'journey-stage', asked: true },
      ]);
    });
  });

  it('are applied by the CLI command, which then has nothing left to do', async () => {
    const { url } = await emptyDatabase();
    const first = ServerProcess.start({ DATABASE_URL: url, LOG_LEVEL: 'silent' }, 'dist/cli.js', ['migrate']);
    expect(await first.exited).toBe(0);
    expect(first.output.join('\n')).toMatch(/^Applied \d+ migration\(s\): EventStore/);
    const second = ServerProcess.start({ DATABASE_URL: url, LOG_LEVEL: 'silent' }, 'dist/cli.js', ['migrate']);
    expect(await second.exited).toBe(0);
    expect(second.output).toEqual(['Nothing to migrate.']);
  });
});
