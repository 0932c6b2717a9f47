import { createCatalog, defaultEventTypes, splitPersonalData } from '../src/domain/catalog/index.js';
import { fromSegmentMessage, type SegmentCall } from '../src/domain/ingestion/segment.js';
import { generateJourneys, type JourneyOptions } from '../src/demo/journeys.js';
import { sendDemoTraffic } from '../src/demo/send-demo.js';
import { Database } from '../src/modules/database/database.js';
import { apiKeys, testEnvironment } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ServerProcess } from './support/process.js';
import { readModels } from './support/projections.js';

const journeys: JourneyOptions = { customers: 300, seed: 11, start: '2026-09-01T00:00:00.000Z', days: 60 };

/** Every personal value the demo traffic sends, as the catalog defines personal data. */
function personalValues(): Set<string> {
  const catalog = createCatalog(defaultEventTypes);
  const values = new Set<string>();
  const collect = (value: unknown): void => {
    if (typeof value === 'string' && value.length >= 6) values.add(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === 'object') Object.values(value).forEach(collect);
  };
  for (const message of generateJourneys(journeys)) {
    const event = fromSegmentMessage(message.type as SegmentCall, message, { receivedAt: message.timestamp });
    if (typeof event.type !== 'string') continue;
    const sections = { properties: event.properties as object, traits: event.traits as object, context: event.context as object };
    collect(Object.values(splitPersonalData(catalog, event.type, sections as never).personal));
  }
  return values;
}

describe('projections after crashes (real processes, demo traffic)', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  const environment = testEnvironment();
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 4);
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await database?.end();
    await testDatabase?.drop();
  });

  const start = async () => {
    const server = ServerProcess.start({ ...(environment as Record<string, string>), DATABASE_URL: testDatabase.url, LOG_LEVEL: 'info' });
    servers.push(server);
    const graphqlUrl = await server.ready();
    return { server, url: graphqlUrl.replace(/\/graphql$/, '') };
  };

  const statuses = async (url: string) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKeys.operator}` },
      body: JSON.stringify({ query: '{ projections { name state lag processedEvents rebuild { processedEvents } } }' }),
    });
    return ((await response.json()) as { data: { projections: { name: string; state: string; lag: number; processedEvents: number; rebuild: { processedEvents: number } | null }[] } })
      .data.projections;
  };

  const until = async (probe: () => Promise<boolean>, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const settled = (url: string) => until(async () => (await statuses(url)).every((status) => status.state === 'LIVE' && status.lag === 0 && !status.rebuild));

  it('recover from kill -9 mid-batch and mid-rebuild, equal a rebuild from scratch, and keep personal data out of analytics', async () => {
    const first = await start();
    const sending = sendDemoTraffic({ ...journeys, url: first.url, writeKey: apiKeys.ingest, rate: 0, batchSize: 100, concurrency: 4 });
    // Kill while the projections are part-way through the log.
    await until(async () => (await statuses(first.url)).some((status) => status.processedEvents > 500), 60_000);
    await first.server.stop('SIGKILL');
    await sending.catch(() => undefined);

    const second = await start();
    const resent = await sendDemoTraffic({ ...journeys, url: second.url, writeKey: apiKeys.ingest, rate: 0, batchSize: 100, concurrency: 4 });
    expect(resent.messages).toBeGreaterThan(5_000);
    await settled(second.url);
    const live = await readModels(database);
    const { rows } = await database.query<{ events: string; counted: string }>(
      `SELECT (SELECT count(*) FROM event_store_events WHERE stream LIKE 'customer-%') AS events,
              (SELECT sum((profile->'metrics'->>'events')::int) FROM customer_profiles WHERE merged_into IS NULL) AS counted`,
    );
    expect(rows[0]!.counted).toBe(rows[0]!.events);

    for (const name of ['customer-profile', 'journey-stage', 'analytics', 'timeline']) {
      await fetch(`${second.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKeys.operator}` },
        body: JSON.stringify({ query: `mutation { rebuildProjection(name: "${name}") { name } }` }),
      });
    }
    await until(async () => (await statuses(second.url)).some((status) => (status.rebuild?.processedEvents ?? 0) > 500), 60_000);
    await second.server.stop('SIGKILL');

    const third = await start();
    await settled(third.url);
    expect(await readModels(database)).toEqual(live);

    const personal = personalValues();
    expect(personal.size).toBeGreaterThan(500);
    const analytics = await database.query<{ dump: string }>(
      `SELECT string_agg(row_text, E'\\n') AS dump FROM (
         SELECT row_to_json(t)::text AS row_text FROM analytics_events t
         UNION ALL SELECT row_to_json(t)::text FROM analytics_daily_activity t
         UNION ALL SELECT row_to_json(t)::text FROM analytics_daily_customers t
         UNION ALL SELECT row_to_json(t)::text FROM analytics_stage_transitions t
         UNION ALL SELECT row_to_json(t)::text FROM analytics_journeys t) AS all_rows`,
    );
    const leaked = [...personal].filter((value) => analytics.rows[0]!.dump.includes(value));
    expect(leaked).toEqual([]);
  }, 300_000);
});
