import { randomUUID } from 'node:crypto';
import { Database } from '../src/modules/database/database.js';
import { encodePosition } from '../src/modules/event-store/event-store.port.js';
import { EventIdRegistry } from '../src/modules/event-store/eventstoredb/event-id-registry.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

describe('the event-id registry', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let registry: EventIdRegistry;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 2, 'trailmap-registry');
    registry = new EventIdRegistry(database);
  });

  afterAll(async () => {
    await database?.end();
    await testDatabase?.drop();
  });

  it('finds the ids it recorded, with their stream and place, and nothing for the others', async () => {
    const [first, second, unknown] = [randomUUID(), randomUUID(), randomUUID()];
    await registry.record([
      { id: first, stream: 'customer-1', revision: 0, position: encodePosition(100, 100) },
      { id: second, stream: 'customer-1', revision: 2 ** 40, position: encodePosition(200, 190) },
    ]);
    const found = await registry.find([first, second, unknown]);
    expect([...found]).toEqual([
      [first, { stream: 'customer-1', revision: 0, position: encodePosition(100, 100) }],
      [second, { stream: 'customer-1', revision: 2 ** 40, position: encodePosition(200, 190) }],
    ]);
  });

  it('keeps the first registration of an id, within one call and across calls', async () => {
    const id = randomUUID();
    await registry.record([
      { id, stream: 'customer-1', revision: 3, position: encodePosition(300, 300) },
      { id, stream: 'customer-2', revision: 0, position: encodePosition(301, 301) },
    ]);
    await registry.record([{ id, stream: 'customer-3', revision: 9, position: encodePosition(400, 400) }]);
    expect(await registry.find([id])).toEqual(new Map([[id, { stream: 'customer-1', revision: 3, position: encodePosition(300, 300) }]]));
  });

  it('finds an id whatever the case it is asked in', async () => {
    const id = randomUUID();
    await registry.record([{ id: id.toUpperCase(), stream: 'customer-1', revision: 0, position: encodePosition(500, 500) }]);
    expect((await registry.find([id.toUpperCase()])).get(id.toUpperCase())).toMatchObject({ stream: 'customer-1' });
    expect((await registry.find([id])).get(id)).toMatchObject({ stream: 'customer-1' });
  });

  it('records and finds nothing without a query when given no ids', async () => {
    await registry.record([]);
    expect(await registry.find([])).toEqual(new Map());
  });

  it('records a thousand ids in one call', async () => {
    const registrations = Array.from({ length: 1_000 }, (_, revision) => ({
      id: randomUUID(),
      stream: 'customer-long',
      revision,
      position: encodePosition(1_000 + revision, 1_000 + revision),
    }));
    await registry.record(registrations);
    const found = await registry.find(registrations.map(({ id }) => id));
    expect(found.size).toBe(1_000);
    expect(found.get(registrations[999]!.id)).toEqual({ stream: 'customer-long', revision: 999, position: encodePosition(1_999, 1_999) });
  });
});
