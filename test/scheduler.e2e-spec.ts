import { randomUUID } from 'node:crypto';
import type { Trailmap } from '../src/app.js';
import { Database } from '../src/modules/database/database.js';
import { ProjectionsService } from '../src/projections/projections.service.js';
import { apiKeys, bootTrailmap, graphql } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { caughtUp } from './support/projections.js';

const RECORD = `mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id } } }`;

describe('the scheduler of time-based events', () => {
  let testDatabase: TestDatabase;
  let instances: Trailmap[];
  let database: Database;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    instances = await Promise.all([0, 1].map(() => bootTrailmap(testDatabase.url, { TRAILMAP_SCHEDULER_INTERVAL: '1h' })));
    database = new Database(testDatabase.url, 4);
  });

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    await database?.end();
    await testDatabase?.drop();
  });

  const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
  const typesIn = async (customerId: string) =>
    (await database.query<{ type: string }>('SELECT type FROM event_store_events WHERE stream = $1 ORDER BY revision', [`customer-${customerId}`])).rows.map(
      (row) => row.type,
    );
  const stageOf = async (customerId: string) =>
    (await database.query<{ stage: string }>('SELECT stage FROM journey_states WHERE customer_id = $1', [customerId])).rows[0]?.stage;

  it('records Cart Abandoned and Customer Went Dormant once each, even with two instances scanning at once', async () => {
    const shopper = `shopper-${randomUUID().slice(0, 8)}`;
    const sleeper = `sleeper-${randomUUID().slice(0, 8)}`;
    const response = await graphql(
      instances[0]!,
      RECORD,
      {
        events: [
          { type: 'Product Added', userId: shopper, occurredAt: hoursAgo(2), properties: { product_id: 'p-1' } },
          { type: 'Product Viewed', userId: sleeper, occurredAt: hoursAgo(40 * 24), properties: { product_id: 'p-2' } },
        ],
      },
      apiKeys.ingest,
    );
    expect(response.errors).toBeUndefined();
    const [first, second] = instances.map((instance) => instance.app.get(ProjectionsService));
    await caughtUp(first!);

    const now = new Date().toISOString();
    await Promise.all([first!.runScheduler(now), second!.runScheduler(now), first!.runScheduler(now)]);
    await caughtUp(first!);
    await Promise.all([first!.runScheduler(new Date().toISOString()), second!.runScheduler(new Date().toISOString())]);
    await caughtUp(first!);

    expect(await typesIn(shopper)).toEqual(['Product Added', 'Cart Abandoned']);
    expect(await typesIn(sleeper)).toEqual(['Product Viewed', 'Customer Went Dormant']);
    expect(await stageOf(sleeper)).toBe('DORMANT');
    expect(await stageOf(shopper)).toBe('CONVERSION');
  });

  it('records a backlog of due customers a hundred to an append, each append its own transaction', async () => {
    const sleepers = Array.from({ length: 250 }, (_, n) => `backlog-${randomUUID().slice(0, 8)}-${n}`);
    for (let start = 0; start < sleepers.length; start += 50) {
      const events = sleepers.slice(start, start + 50).map((userId) => ({ type: 'Product Viewed', userId, occurredAt: hoursAgo(40 * 24), properties: { product_id: 'p-3' } }));
      expect((await graphql(instances[0]!, RECORD, { events }, apiKeys.ingest)).errors).toBeUndefined();
    }
    const projections = instances[0]!.app.get(ProjectionsService);
    await caughtUp(projections);
    await projections.runScheduler(new Date().toISOString());
    await caughtUp(projections);

    const { rows } = await database.query<{ events: number; transactions: number }>(
      `SELECT count(*)::int AS events, count(DISTINCT xmin::text)::int AS transactions FROM event_store_events
        WHERE type = 'Customer Went Dormant' AND stream = ANY($1)`,
      [sleepers.map((id) => `customer-${id}`)],
    );
    expect(rows[0]).toEqual({ events: 250, transactions: 3 });
    expect(await stageOf(sleepers[0]!)).toBe('DORMANT');
    expect(await stageOf(sleepers.at(-1)!)).toBe('DORMANT');
  });

  it('wakes a dormant customer on new activity, into the stage that activity implies', async () => {
    const sleeper = `waking-${randomUUID().slice(0, 8)}`;
    await graphql(instances[0]!, RECORD, { events: [{ type: 'Order Completed', userId: sleeper, occurredAt: hoursAgo(50 * 24), properties: { order_id: 'o' } }] }, apiKeys.ingest);
    const projections = instances[0]!.app.get(ProjectionsService);
    await caughtUp(projections);
    await projections.runScheduler(new Date().toISOString());
    await caughtUp(projections);
    expect(await stageOf(sleeper)).toBe('DORMANT');

    await graphql(instances[0]!, RECORD, { events: [{ type: 'Page Viewed', userId: sleeper, properties: { path: '/' } }] }, apiKeys.ingest);
    await caughtUp(projections);
    expect(await stageOf(sleeper)).toBe('ENGAGEMENT');
    await projections.runScheduler(new Date().toISOString());
    await caughtUp(projections);
    expect(await typesIn(sleeper)).toEqual(['Order Completed', 'Customer Went Dormant', 'Page Viewed']);
  });
});
