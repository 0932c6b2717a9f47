import { randomUUID } from 'node:crypto';
import { Database } from '../src/modules/database/database.js';
import { PostgresEventStore, writeGroup } from '../src/modules/event-store/postgres/postgres-event-store.js';
import { eventStoreContract } from './event-store/contract.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

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
    await store.append(stream, [newEvent(), newEvent()], { expectedRevision: 'no_stream' });
    const [first, second] = await Promise.all([store.readAll({ streamPrefix: stream, limit: 100 }), store.readAll({ streamPrefix: stream, limit: 100 })]);
    expect(first.map((event) => event.stream)).toEqual([stream, stream]);
    // The same page, not an equal one: it was read and parsed once.
    expect(second).toBe(first);
    // A page that is not full is not final: a later reader reads again.
    expect(await store.readAll({ streamPrefix: stream, limit: 100 })).not.toBe(first);
  });
});

function newEvent() {
  return { id: randomUUID(), type: 'Page Viewed', data: { properties: {} }, metadata: { occurredAt: new Date().toISOString(), schemaVersion: 1 } };
}
