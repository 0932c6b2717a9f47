import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { Database } from '../../src/modules/database/database.js';
import { apiKeys } from '../support/app.js';
import { acknowledged, describeAnswer, graphqlAt, RECORD_EVENTS } from '../support/clients.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { report } from '../support/measure.js';
import { allSettled, projectionsAt, serverOn, until } from '../support/operations.js';
import { ServerProcess } from '../support/process.js';

const STAGE_CHANGED = 'subscription { journeyStageChanged { customerId from to at eventType } }';
const ACTIVE_LINE = 'projection runner is active on this instance';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('two server processes, the one running the projections killed with SIGKILL', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  const servers: ServerProcess[] = [];
  let subscriber: Client | undefined;
  let sending = false;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 2);
  });

  afterAll(async () => {
    sending = false;
    await subscriber?.dispose();
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await database?.end();
    await testDatabase?.drop();
  });

  const start = async () => {
    const started = await serverOn(testDatabase.url);
    servers.push(started.server);
    return started;
  };
  const activeRunners = (server: ServerProcess) => server.output.filter((line) => line.includes(ACTIVE_LINE)).length;

  it('fails the projection runners over to the survivor within seconds, and its subscribers keep receiving every stage change', async () => {
    const leader = await start();
    await until(async () => (await projectionsAt(leader.url))?.every((status) => status.active) === true && activeRunners(leader.server) === 4, 'the first server to run the projections', 30_000);
    const survivor = await start();

    // Subscribers of the survivor: every stage change, with its arrival time.
    const received: { customerId: string; to: string; at: number }[] = [];
    let subscriptionFailure: unknown;
    subscriber = createClient({ url: `${survivor.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${apiKeys.support}` } });
    subscriber.subscribe<{ journeyStageChanged: { customerId: string; to: string } }>(
      { query: STAGE_CHANGED },
      {
        next: (result) => {
          if (result.errors) subscriptionFailure = result.errors;
          else received.push({ ...result.data!.journeyStageChanged, at: performance.now() });
        },
        error: (error) => (subscriptionFailure = error),
        complete: () => (subscriptionFailure ??= 'completed'),
      },
    );

    // A steady client of the survivor: a new customer every 50 ms, each first event a stage change.
    const prefix = `failover-${randomUUID().slice(0, 8)}`;
    const recorded: { customerId: string; at: number }[] = [];
    const failures: string[] = [];
    sending = true;
    const sender = (async () => {
      for (let index = 0; sending; index++) {
        const customerId = `${prefix}-${index}`;
        const answer = await graphqlAt(survivor.url, RECORD_EVENTS, { events: [{ type: 'Product Viewed', userId: customerId, properties: { product_id: `p-${index}` } }] }, apiKeys.ingest);
        if (acknowledged(answer)) recorded.push({ customerId, at: performance.now() });
        else failures.push(describeAnswer(answer));
        await pause(50);
      }
    })();

    await until(() => received.filter(({ customerId }) => customerId.startsWith(prefix)).length >= 10, 'stage changes through the survivor before the kill', 30_000);
    expect(activeRunners(survivor.server)).toBe(0);

    const killedAt = performance.now();
    await leader.server.stop('SIGKILL');
    let failedOverAt: number | undefined;
    let caughtUpAt: number | undefined;
    await until(
      async () => {
        const statuses = await projectionsAt(survivor.url);
        if (failedOverAt === undefined && statuses?.every((status) => status.active) && activeRunners(survivor.server) === 4) failedOverAt = performance.now();
        if (failedOverAt !== undefined && allSettled(statuses)) caughtUpAt = performance.now();
        return caughtUpAt !== undefined;
      },
      'the survivor to run every projection, caught up',
      30_000,
    );
    await until(() => received.some(({ customerId }) => recorded.some((event) => event.customerId === customerId && event.at > killedAt)), 'a stage change recorded after the kill', 30_000);
    const firstDeliveryAfterKill = received.find(({ customerId }) => recorded.some((event) => event.customerId === customerId && event.at > killedAt))!;
    await pause(3_000);
    sending = false;
    await sender;
    await until(async () => allSettled(await projectionsAt(survivor.url)), 'lag 0 on the survivor', 30_000);
    // The last notices are on their way once the checkpoint moved.
    await until(() => recorded.every(({ customerId }) => received.some((change) => change.customerId === customerId)), 'every stage change to reach the subscriber', 10_000).catch(() => undefined);

    const { rows: transitions } = await database.query<{ customer_id: string; to_stage: string }>(
      'SELECT customer_id, to_stage FROM journey_transitions WHERE starts_with(customer_id, $1) ORDER BY customer_id, at',
      [prefix],
    );
    const ours = received.filter(({ customerId }) => customerId.startsWith(prefix));
    const key = (change: { customerId?: string; customer_id?: string; to?: string; to_stage?: string }) => `${change.customerId ?? change.customer_id}>${change.to ?? change.to_stage}`;
    const deliveries = new Map<string, number>();
    for (const change of ours) deliveries.set(key(change), (deliveries.get(key(change)) ?? 0) + 1);

    report('failover', {
      customersRecorded: recorded.length,
      recordedAfterKill: recorded.filter(({ at }) => at > killedAt).length,
      killToAllRunnersActiveOnSurvivorMs: failedOverAt! - killedAt,
      killToFirstStageChangeDeliveredMs: firstDeliveryAfterKill.at - killedAt,
      killToLiveLag0OnSurvivorMs: caughtUpAt! - killedAt,
      stageChangesDelivered: ours.length,
      duplicateDeliveries: ours.length - deliveries.size,
    });

    expect(failures).toEqual([]);
    expect(subscriptionFailure).toBeUndefined();
    expect(survivor.server.child.exitCode).toBeNull();
    expect(transitions.length).toBe(recorded.length);
    expect(transitions.map(key).filter((change) => !deliveries.has(change))).toEqual([]);
    expect([...deliveries.values()].every((count) => count === 1)).toBe(true);
    // Generous: the standby retries the projection lock every 2 s.
    expect(failedOverAt! - killedAt).toBeLessThan(15_000);
  }, 120_000);
});
