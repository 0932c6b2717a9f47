import { EventStoreDBClient } from '@eventstore/db-client';
import { Database } from '../src/modules/database/database.js';
import { EventIdRegistry } from '../src/modules/event-store/eventstoredb/event-id-registry.js';
import { EventStoreDbEventStore } from '../src/modules/event-store/eventstoredb/eventstoredb-event-store.js';
import { toEsdbConnectionString } from '../src/modules/event-store/eventstoredb/eventstoredb-mapping.js';
import { eventStoreContract } from './event-store/contract.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;
// Written to stderr directly: Jest does not show the console output of a skipped file run among others.
if (!connectionString) process.stderr.write('EventStoreDB contract suite skipped: set EVENTSTORE_CONNECTION_STRING to run it\n');

(connectionString ? describe : describe.skip)('the EventStoreDB event store', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let client: EventStoreDBClient;
  let store: EventStoreDbEventStore;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 20, 'trailmap-contract');
    client = EventStoreDBClient.connectionString(toEsdbConnectionString(connectionString!));
    store = new EventStoreDbEventStore(client, { registry: new EventIdRegistry(database) });
  });

  afterAll(async () => {
    await store?.close();
    await client?.dispose();
    await database?.end();
    await testDatabase?.drop();
  });

  // No transactions on EventStoreDB, so no `beginAppend`: the suite leaves out the late-commit test.
  eventStoreContract({
    store: () => store,
    // dispose() cancels every open call of the store's own client, its subscription included, and leaves the client usable: the adapter must resubscribe by itself, with no test seam in it.
    disconnect: () => client.dispose(),
  });
});
