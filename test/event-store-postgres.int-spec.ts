import { randomUUID } from 'node:crypto';
import { Database } from '../src/modules/database/database.js';
import type { StoredEvent } from '../src/modules/event-store/event-store.port.js';
import { PostgresEventStore, writeGroup } from '../src/modules/event-store/postgres/postgres-event-store.js';
import { eventStoreContract } from './event-store/contract.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { until } from './support/operations.js';

describe('the PostgreSQL event store', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let store: PostgresEventStore;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 20, 'trailmap-contract');
    store = new PostgresEventStore(database);
  });

  afterAll(async () => {
    await store?.close();
    await database?.end();
    await testDatabase?.drop();
  });

  eventStoreContract({
    store: () => store,
    async disconnect() {
      await database.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
    },
    async beginAppend(stream, events) {
      const client = await database.pool.connect();
      await client.query('BEGIN');
      await writeGroup(client, [[{ stream, events, expectedRevision: 'any' }]]);
      return {
        async commit() {
          await client.query('COMMIT');
          client.release();
        },
      };
    },
  });

  it('answers readers asking for the same page at once with one read', async () => {
    const stream = `customer-together-${Date.now()}`;
    const { position } = await store.append(stream, [newEvent(), newEvent()], { expectedRevision: 'no_stream' });
    // Readers stop below the cluster's oldest open transaction (another test file's, maybe): read once the events are visible.
    await until(async () => ((await store.headPosition()) ?? '') >= position, 'the appended events to be visible', 30_000);
    const [first, second] = await Promise.all([store.readAll({ streamPrefix: stream, limit: 100 }), store.readAll({ streamPrefix: stream, limit: 100 })]);
    expect(first.map((event) => event.stream)).toEqual([stream, stream]);
    // The same page, not an equal one: it was read and parsed once.
    expect(second).toBe(first);
    // A page that is not full is not final: a later reader reads again.
    expect(await store.readAll({ streamPrefix: stream, limit: 100 })).not.toBe(first);
  });

  /**
   * An early subscriber of a new prefix, handed five one-event pages (one per append); then `between`;
   * then a late subscriber, whose first page must be those five events: the same objects, not read again.
   */
  async function handedOver(prefix: string, between: () => Promise<void> = async () => undefined) {
    const controller = new AbortController();
    const early = store.subscribe({ streamPrefix: prefix, signal: controller.signal })[Symbol.asyncIterator]();
    try {
      const pages: StoredEvent[][] = [];
      for (let index = 0; index < 5; index++) {
        const next = early.next();
        await store.append(`${prefix}${index}`, [newEvent()], { expectedRevision: 'no_stream' });
        pages.push((await next).value as StoredEvent[]);
      }
      expect(pages.map((page) => page.length)).toEqual([1, 1, 1, 1, 1]);
      await between();
      const late = store.subscribe({ streamPrefix: prefix, signal: controller.signal })[Symbol.asyncIterator]();
      const caughtUp = (await late.next()).value as StoredEvent[];
      // The early subscriber's five reads, kept in memory: one page for the late one, not five turns of its loop.
      expect(caughtUp).toHaveLength(5);
      caughtUp.forEach((event, index) => expect(event).toBe(pages[index]![0]));
      await late.return?.();
    } finally {
      controller.abort();
      await early.return?.();
    }
  }

  it('hands a subscriber the pages other subscribers read before it, together, as one page of the same events', async () => {
    await handedOver(`customer-pieces-${Date.now()}-`);
  });

  it('keeps the pages it hands over when other subscribers read nothing new', async () => {
    await handedOver(`customer-kept-${Date.now()}-`, async () => {
      // Subscribers of streams with no events, each reading once: as many reads as pages kept.
      for (let index = 0; index < 8; index++) {
        const idle = new AbortController();
        const next = store.subscribe({ streamPrefix: `customer-idle-${Date.now()}-${index}-`, signal: idle.signal })[Symbol.asyncIterator]().next();
        idle.abort(); // ends it once its first read is done
        expect((await next).done).toBe(true);
      }
    });
  });

  it('plans the statements of its shared commits once per connection, whatever the streams and ids of each', async () => {
    const single = new Database(testDatabase.url, 1, 'trailmap-plans');
    const planned = new PostgresEventStore(single);
    try {
      // More appends than PostgreSQL's five custom plans before it weighs a generic one, one at a time (one per commit):
      // appends whatever the revision (written at once), and appends that expect one (their heads read first).
      for (let index = 0; index < 8; index++) {
        await planned.appendMany([{ stream: `customer-planned-${Date.now()}-${index}`, events: [newEvent()], expectedRevision: 'any' }]);
        await planned.appendMany([{ stream: `customer-expected-${Date.now()}-${index}`, events: [newEvent()], expectedRevision: 'no_stream' }]);
      }
      // The pool's one connection made them all: its prepared statements say how each was planned.
      const { rows } = await single.query<{ statement: string; generic_plans: string; custom_plans: string }>(
        `SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%event_store_events%'`,
      );
      const heads = rows.filter((row) => row.statement.includes(`'head' AS kind`));
      expect(heads).toHaveLength(1);
      expect(Number(heads[0]!.generic_plans)).toBe(8);
      // The insert is one statement for both ways: every append ran it.
      const inserts = rows.filter((row) => row.statement.includes('heads AS'));
      expect(inserts).toHaveLength(1);
      expect(Number(inserts[0]!.generic_plans)).toBe(16);
      for (const row of rows) expect(Number(row.custom_plans)).toBe(0);
    } finally {
      await planned.close();
      await single.end();
    }
  });
});

function newEvent() {
  return { id: randomUUID(), type: 'Page Viewed', data: { properties: {} }, metadata: { occurredAt: new Date().toISOString(), schemaVersion: 1 } };
}
