import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createRandom } from '../../src/demo/random.js';
import { storedEventId } from '../../src/domain/ingestion/incoming-event.js';
import { Database } from '../../src/modules/database/database.js';
import { apiKeys } from '../support/app.js';
import { acknowledged, describeAnswer, graphqlAt } from '../support/clients.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { checkLog } from '../support/event-log.js';
import { report } from '../support/measure.js';
import { serverOn, settled } from '../support/operations.js';
import { ServerProcess } from '../support/process.js';
import { send, type EventRequest } from '../support/traffic.js';

const CLIENTS = 20;
const EVENTS_PER_CLIENT = 50;

describe('many clients writing to one customer at once, through two server processes and both doors', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 2);
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await database?.end();
    await testDatabase?.drop();
  });

  const start = async (environment: Record<string, string> = {}) => {
    const { server, url } = await serverOn(testDatabase.url, environment);
    servers.push(server);
    return url;
  };

  it('keeps every event once, in contiguous revisions and each client’s order, and counts them all in the profile', async () => {
    const urls = await Promise.all([start(), start({ TRAILMAP_PROJECTIONS: 'off' })]);
    const userId = `one-customer-${randomUUID().slice(0, 8)}`;
    const random = createRandom(4_242);

    // Each client: 50 events in requests of 1 to 10, one door, one instance; its last request sent twice (a retry).
    const clients = Array.from({ length: CLIENTS }, (_, client) => {
      const door = client % 2 === 0 ? ('segment' as const) : ('graphql' as const);
      const url = urls[Math.floor(client / 2) % 2]!;
      const requests: EventRequest[] = [];
      for (let sent = 0; sent < EVENTS_PER_CLIENT; ) {
        const size = Math.min(random.int(1, 10), EVENTS_PER_CLIENT - sent);
        const messages = Array.from({ length: size }, (_, offset) => ({
          type: 'page',
          messageId: `client-${client}-event-${sent + offset}-${userId}`,
          userId,
          name: `page ${sent + offset}`,
          properties: { path: `/client/${client}/${sent + offset}` },
          timestamp: new Date(Date.UTC(2026, 10, 1) + (client * EVENTS_PER_CLIENT + sent + offset) * 1_000).toISOString(),
        }));
        const payload =
          door === 'segment'
            ? { batch: messages }
            : { events: messages.map((message) => ({ id: `segment:${message.messageId}`, type: 'Page Viewed', userId, occurredAt: message.timestamp, properties: { ...message.properties, name: message.name } })) };
        requests.push({ index: requests.length, door, payload, storedIds: messages.map((message) => storedEventId(`segment:${message.messageId}`)) });
        sent += size;
      }
      return { url, requests };
    });

    const started = performance.now();
    const answers = await Promise.all(
      clients.map(async ({ url, requests }) => {
        const answered = [];
        for (const request of [...requests, requests.at(-1)!]) answered.push({ request, answer: await send(url, request) });
        return answered;
      }),
    );
    const writeMs = performance.now() - started;
    const failed = answers.flat().filter(({ answer }) => !acknowledged(answer));
    expect(failed.map(({ answer }) => describeAnswer(answer))).toEqual([]);
    // The resent GraphQL requests say their events were duplicates.
    const resent = answers.filter((answered) => answered.at(-1)!.request.door === 'graphql').map((answered) => answered.at(-1)!.answer.body.data.recordEvents.results);
    expect(resent.flat().every((result: { duplicate: boolean }) => result.duplicate)).toBe(true);

    const sentIds = clients.flatMap(({ requests }) => requests.flatMap((request) => request.storedIds));
    expect(sentIds).toHaveLength(CLIENTS * EVENTS_PER_CLIENT);
    const log = await checkLog(database, sentIds);
    expect(log).toEqual({ missing: [], duplicated: [], unexpected: [], gaps: [], stored: CLIENTS * EVENTS_PER_CLIENT });

    // A client waits for each answer before its next request: its events keep its order in the stream.
    const { rows } = await database.query<{ id: string; revision: string }>('SELECT id::text, revision FROM event_store_events WHERE stream = $1', [`customer-${userId}`]);
    const revisionOf = new Map(rows.map((row) => [row.id, Number(row.revision)]));
    for (const { requests } of clients) {
      const revisions = requests.flatMap((request) => request.storedIds).map((id) => revisionOf.get(id)!);
      expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    }

    await settled(urls[0]!);
    const customer = await graphqlAt(urls[1]!, `query($id: ID!) { customer(id: $id) { version metrics { events pageViews } } }`, { id: userId }, apiKeys.analyst);
    expect(customer.body.data.customer).toEqual({ version: CLIENTS * EVENTS_PER_CLIENT - 1, metrics: { events: CLIENTS * EVENTS_PER_CLIENT, pageViews: CLIENTS * EVENTS_PER_CLIENT } });
    let timeline = 0;
    let after: string | null = null;
    do {
      const page: any = await graphqlAt(urls[0]!, `query($id: ID!, $after: String) { customer(id: $id) { timeline(first: 500, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }`, { id: userId, after }, apiKeys.analyst);
      const connection = page.body.data.customer.timeline;
      timeline += connection.edges.length;
      after = connection.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null;
    } while (after);
    expect(timeline).toBe(CLIENTS * EVENTS_PER_CLIENT);

    report('concurrent writers', {
      clients: CLIENTS,
      events: CLIENTS * EVENTS_PER_CLIENT,
      requests: answers.flat().length,
      writeMs,
      eventsPerSecond: (CLIENTS * EVENTS_PER_CLIENT) / (writeMs / 1000),
    });
  }, 90_000);
});
