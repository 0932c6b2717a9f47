import { randomUUID } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { apiKeys, testEnvironment } from './support/app.js';
import { graphqlAt } from './support/clients.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ServerProcess } from './support/process.js';

const RECORD = `mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id } } }`;
const CUSTOMER = `query Customer($id: ID!) { customer(id: $id) { id stage metrics { events orders revenue } stageHistory { from to } } }`;
const PROJECTIONS = `{ projections { name state lag active } }`;

/** The server as users start it (dist/main.js, default settings): the projections run in a thread of its own. */
describe('projections in a thread of their own (TRAILMAP_PROJECTIONS=worker, the default)', () => {
  let testDatabase: TestDatabase;
  let server: ServerProcess;
  let url: string;

  beforeAll(async () => {
    testDatabase = await createTestDatabase({ migrated: false });
    server = ServerProcess.start({ ...(testEnvironment() as Record<string, string>), DATABASE_URL: testDatabase.url, LOG_LEVEL: 'info', TRAILMAP_SCHEDULER_INTERVAL: '1h', TRAILMAP_PROJECTIONS_HEAP_MB: '300' });
    url = (await server.ready()).replace(/\/graphql$/, '');
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await testDatabase?.drop();
  });

  const record = async (events: unknown[]) => {
    const answer = await graphqlAt(url, RECORD, { events }, apiKeys.ingest);
    expect(answer.status).toBe(200);
    expect((answer.body as { errors?: unknown }).errors).toBeUndefined();
  };
  const projections = async () => ((await graphqlAt(url, PROJECTIONS)).body as { data: { projections: { name: string; state: string; lag: number; active: boolean }[] } }).data.projections;
  const caughtUp = async () => {
    for (let attempt = 0; attempt < 300; attempt += 1) {
      if ((await projections()).every(({ state, lag }) => state === 'LIVE' && lag === 0)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the projections did not catch up in 30 s');
  };
  const at = (minutes: number) => new Date(Date.UTC(2026, 10, 1, 9, 0) + minutes * 60_000).toISOString();

  it('runs every projection in the thread, none on the request loop, and serves what they build', async () => {
    const userId = `u-${randomUUID().slice(0, 8)}`;
    await record([
      { type: 'Product Viewed', userId, occurredAt: at(0), properties: { product_id: 'p-1' } },
      { type: 'Order Completed', userId, occurredAt: at(5), properties: { order_id: 'o-1', revenue: 42 } },
    ]);
    await caughtUp();

    const customer = ((await graphqlAt(url, CUSTOMER, { id: userId })).body as { data: { customer: unknown } }).data.customer as { id: string; stage: string; metrics: unknown; stageHistory: { from: string | null; to: string }[] };
    expect(customer).toMatchObject({ id: userId, metrics: { events: 2, orders: 1, revenue: 42 } });
    expect(customer.stageHistory[0]!.from).toBeNull();
    expect(customer.stageHistory.at(-1)!.to).toBe(customer.stage);
    // Each projection's runner is active in the thread (its log lines say so), none on the request loop.
    expect((await projections()).map(({ active }) => active)).toEqual([true, true, true, true]);
    const activations = server.output.map((line) => JSON.parse(line) as { msg?: string; projection?: string; thread?: string }).filter(({ msg }) => msg === 'projection runner is active on this instance');
    expect(activations.map(({ projection, thread }) => [projection, thread]).sort()).toEqual(
      ['analytics', 'customer-profile', 'journey-stage', 'timeline'].map((projection) => [projection, 'projections']),
    );
  });

  it("runs the thread within the configured heap (TRAILMAP_PROJECTIONS_HEAP_MB)", () => {
    const started = server.output.map((line) => JSON.parse(line) as { msg?: string; heapMb?: number; thread?: string }).find(({ msg }) => msg === 'the projections thread is running');
    expect(started).toMatchObject({ thread: 'projections', heapMb: 300 });
  });

  it("delivers the thread's stage changes to the API's subscribers", async () => {
    const client = createClient({
      url: `${url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${apiKeys.admin}` },
    });
    try {
      const received = new Promise<{ journeyStageChanged: { customerId: string; from: string | null } }>((resolve, reject) => {
        client.subscribe(
          { query: 'subscription { journeyStageChanged { customerId from } }' },
          { next: (message) => resolve(message.data as never), error: reject, complete: () => undefined },
        );
      });
      // A new customer's first event moves them into their first stage; new customers until the subscription is in place.
      const customers: string[] = [];
      let change: Awaited<typeof received> | undefined;
      for (let attempt = 0; change === undefined && attempt < 50; attempt += 1) {
        const userId = `u-${randomUUID().slice(0, 8)}`;
        customers.push(userId);
        await record([{ type: 'Product Viewed', userId, occurredAt: at(0), properties: { product_id: 'p-1' } }]);
        change = await Promise.race([received, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200))]);
      }
      expect(change).toBeDefined();
      expect(customers).toContain(change!.journeyStageChanged.customerId);
      expect(change!.journeyStageChanged.from).toBeNull();
    } finally {
      await client.dispose();
    }
  });

  it('stops on SIGTERM, its projections thread with it', async () => {
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(server.output.join('\n')).not.toMatch(/projections thread (failed|exited)/);
  });
});
