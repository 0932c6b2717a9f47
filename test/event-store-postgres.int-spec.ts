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
});
