import { randomUUID } from 'node:crypto';
import { Database } from '../src/modules/database/database.js';
import { PostgresEventStore } from '../src/modules/event-store/postgres/postgres-event-store.js';
import { testEnvironment } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ServerProcess } from './support/process.js';

describe('operator commands', () => {
  let testDatabase: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 2);
  });

  afterAll(async () => {
    await database?.end();
    await testDatabase?.drop();
  });

  it('rebuild builds a projection from the log with no server running, showing its progress', async () => {
    const store = new PostgresEventStore(database);
    const customers = Array.from({ length: 30 }, () => `cli-${randomUUID().slice(0, 8)}`);
    for (const customer of customers) {
      await store.append(
        `customer-${customer}`,
        [{ id: randomUUID(), type: 'Page Viewed', data: { userId: customer, properties: { path: '/' } }, metadata: { occurredAt: '2026-11-01T10:00:00.000Z', schemaVersion: 1 } }],
        { expectedRevision: 'any' },
      );
    }
    await store.close();
    const command = ServerProcess.start({ ...(testEnvironment() as Record<string, string>), DATABASE_URL: testDatabase.url, LOG_LEVEL: 'silent' }, 'dist/cli.js', [
      'rebuild',
      'customer-profile',
    ]);
    expect(await command.exited).toBe(0);
    expect(command.output.some((line) => /^\[[#-]{30}\]\s+\d+%/.test(line))).toBe(true);
    expect(command.output.at(-1)).toMatch(/^Rebuilt customer-profile: 30 events in [\d.]+ s\.$/);
    const { rows } = await database.query<{ count: string }>('SELECT count(*) FROM customer_profiles WHERE customer_id = ANY($1::text[])', [customers]);
    expect(rows[0]!.count).toBe('30');
  }, 60_000);

  it('refuses an unknown projection with a clear message', async () => {
    const command = ServerProcess.start({ ...(testEnvironment() as Record<string, string>), DATABASE_URL: testDatabase.url, LOG_LEVEL: 'silent' }, 'dist/cli.js', ['rebuild', 'nope']);
    expect(await command.exited).toBe(1);
    expect(command.output.join('\n')).toContain('There is no projection named "nope"');
  });
});
