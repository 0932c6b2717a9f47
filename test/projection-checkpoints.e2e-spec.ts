import { randomUUID } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Trailmap } from '../src/app.js';
import { StageChangesFeed } from '../src/modules/live/stage-changes.feed.js';
import { ProjectionsService } from '../src/projections/projections.service.js';
import { apiKeys, bootTrailmap, graphql } from './support/app.js';
import { RECORD_EVENTS } from './support/clients.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { until } from './support/operations.js';
import { caughtUp } from './support/projections.js';

const PROJECTIONS = ['analytics', 'customer-profile', 'journey-stage', 'timeline'];

/**
 * Whether a projection applies the log live (announcing each stage change) or builds itself by a
 * silent rebuild is settled by its checkpoint, made on its first run: that must happen before the
 * instance takes any event, or the first events of a new deployment are taken for an old log's.
 */
describe('the projections’ checkpoints on a first start', () => {
  const databases: TestDatabase[] = [];
  const servers: Trailmap[] = [];

  afterAll(async () => {
    for (const server of servers) await server.stop();
    for (const database of databases) await database.drop();
  });

  async function boot(database: TestDatabase, projections: 'on' | 'off') {
    const server = await bootTrailmap(database.url, { TRAILMAP_PROJECTIONS: projections, TRAILMAP_SCHEDULER_INTERVAL: '1h' });
    servers.push(server);
    return server;
  }

  async function freshDatabase(): Promise<TestDatabase> {
    const database = await createTestDatabase();
    databases.push(database);
    return database;
  }

  async function recordImpression(server: Trailmap, userId: string) {
    const answer = await graphql(server, RECORD_EVENTS, { events: [{ type: 'Ad Impression', userId, properties: { ad_id: 'ad-1', campaign_id: 'spring' } }] }, apiKeys.ingest);
    expect(answer.errors).toBeUndefined();
  }

  const checkpoints = async (database: TestDatabase) => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query<{ name: string; rebuild: boolean }>('SELECT name, rebuild_requested_at IS NOT NULL AS rebuild FROM projection_checkpoints ORDER BY name')).rows;
    } finally {
      await client.end();
    }
  };

  it('are made before the instance takes traffic, so the first event recorded is applied live and its stage change announced', async () => {
    const database = await freshDatabase();
    const server = await boot(database, 'on');
    expect(await checkpoints(database)).toEqual(PROJECTIONS.map((name) => ({ name, rebuild: false })));

    const userId = `first-${randomUUID().slice(0, 8)}`;
    const client = createClient({ url: server.graphqlUrl.replace('http', 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${apiKeys.admin}` } });
    try {
      const received = new Promise<unknown>((resolve, reject) => {
        client.subscribe(
          { query: 'subscription Stage($id: ID) { journeyStageChanged(customerId: $id) { customerId from to } }', variables: { id: userId } },
          { next: (message) => resolve(message.data), error: reject, complete: () => undefined },
        );
      });
      // graphql-ws does not acknowledge a subscribe: wait until the server counts it.
      await until(() => server.app.get(StageChangesFeed).subscriberCount === 1, 'the subscription', 5_000);
      await recordImpression(server, userId);
      await expect(received).resolves.toEqual({ journeyStageChanged: { customerId: userId, from: null, to: 'DISCOVERY' } });
    } finally {
      await client.dispose();
    }
  });

  it('are read once the instance hears rebuild requests: a rebuild asked for as soon as it listens is carried out', async () => {
    const database = await freshDatabase();
    const first = await boot(database, 'on');
    await recordImpression(first, 'rebuilt');
    await caughtUp(first.app.get(ProjectionsService));
    await first.stop();
    servers.splice(servers.indexOf(first), 1);

    const server = await boot(database, 'on');
    const projections = server.app.get(ProjectionsService);
    for (const name of PROJECTIONS) await projections.requestRebuild(name);
    const statuses = await caughtUp(projections, 20_000);
    expect(statuses.map(({ name, processedEvents }) => [name, processedEvents])).toEqual(projections.projections.map(({ name }) => [name, 1]));
    const rebuilt = await checkpoints(database);
    expect(rebuilt.every(({ rebuild }) => !rebuild)).toBe(true);
  });

  it('are left to the instances that run projections: an API-only one makes none, one that runs them builds what came before', async () => {
    const database = await freshDatabase();
    const apiOnly = await boot(database, 'off');
    await recordImpression(apiOnly, 'earlier');
    expect(await checkpoints(database)).toEqual([]);
    const server = await boot(database, 'on');
    expect((await checkpoints(database)).map(({ name }) => name)).toEqual(PROJECTIONS);
    const stage = async () => (await graphql<{ customer: { stage: string } | null }>(server, 'query { customer(id: "earlier") { stage } }')).data?.customer?.stage;
    await until(async () => (await stage()) === 'DISCOVERY', 'the events recorded before the projections ran to be built', 10_000, 50);
  });
});
