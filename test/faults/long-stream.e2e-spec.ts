import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Database } from '../../src/modules/database/database.js';
import { PostgresEventStore } from '../../src/modules/event-store/postgres/postgres-event-store.js';
import { apiKeys } from '../support/app.js';
import { acknowledged, describeAnswer, graphqlAt, segmentAt } from '../support/clients.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { report, RssSampler, rssMegabytes } from '../support/measure.js';
import { PROJECTIONS, rebuildAll, serverOn, settled } from '../support/operations.js';
import { ServerProcess } from '../support/process.js';

const heavy = process.env.TRAILMAP_HEAVY_TESTS === '1';
/** One customer's stream: 100,000 events in the normal run, 1,000,000 with TRAILMAP_HEAVY_TESTS=1. */
const LONG_STREAM = heavy ? 1_000_000 : 100_000;
/**
 * The rebuild: the customer profile (the projection that folds the whole stream into one state) in
 * the normal run, to stay within CI's time; every projection in the heavy run.
 */
const REBUILT: readonly string[] = heavy ? PROJECTIONS : ['customer-profile'];
const BATCH = 2_500;
const PAGE = 500;
/**
 * Two bounds. The server runs with a V8 old-space limit of HEAP_LIMIT_MB: holding the stream would
 * not fit (it is ~43 MB as stored rows for 100,000 events, several times that as JavaScript objects,
 * and ten times both in the heavy run), and V8 would stop the process. And its resident size may
 * grow by at most RSS_GROWTH_BOUND_MB over its size once the stream is stored and projected, while
 * it pages through the whole timeline during a rebuild: a page is 500 events, a projection batch
 * 1,000, the event store keeps its last 32 full pages; the rest is allocator slack and the heap's
 * headroom, the same whatever the stream's length.
 */
const HEAP_LIMIT_MB = 256;
const RSS_GROWTH_BOUND_MB = 100;

const stamp = (index: number) => new Date(Date.UTC(2024, 0, 1) + index * 30_000).toISOString();

describe('one customer with a very long stream (real server process)', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let server: ServerProcess;
  let baseUrl: string;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 4);
    ({ server, url: baseUrl } = await serverOn(testDatabase.url, { NODE_OPTIONS: `--max-old-space-size=${HEAP_LIMIT_MB}` }));
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await database?.end();
    await testDatabase?.drop();
  });

  it(`pages through a stream of ${LONG_STREAM.toLocaleString('en')} events and rebuilds within bounded memory`, async () => {
    // The heavy run sends the stream through the Segment API; the normal run appends it to the log directly.
    const userId = `long-${randomUUID().slice(0, 8)}`;
    const pid = server.child.pid!;
    const started = performance.now();
    const ingestion = new RssSampler(pid).start();
    if (heavy) {
      // Through the Segment API, two requests of 2,500 in flight at a time.
      let next = 0;
      const sender = async () => {
        while (next < LONG_STREAM) {
          const from = next;
          next += BATCH;
          const batch = Array.from({ length: Math.min(BATCH, LONG_STREAM - from) }, (_, offset) => ({
            type: 'page',
            messageId: `${userId}-${from + offset}`,
            userId,
            name: 'Catalog',
            properties: { path: `/catalog/${from + offset}` },
            timestamp: stamp(from + offset),
          }));
          const answer = await segmentAt(baseUrl, 'batch', { batch });
          if (!acknowledged(answer)) throw new Error(`batch from ${from} refused: ${describeAnswer(answer)}`);
        }
      };
      await Promise.all([sender(), sender()]);
    } else {
      // Straight into the log, as ingestion writes it (the API path of large batches has its own tests), to stay within CI's time.
      const store = new PostgresEventStore(database);
      try {
        for (let from = 0; from < LONG_STREAM; from += BATCH) {
          const events = Array.from({ length: Math.min(BATCH, LONG_STREAM - from) }, (_, offset) => ({
            id: randomUUID(),
            type: 'Page Viewed',
            data: { userId, properties: { path: `/catalog/${from + offset}`, name: 'Catalog' }, traits: {}, context: {} },
            metadata: { occurredAt: stamp(from + offset), receivedAt: stamp(from + offset), correlationId: randomUUID(), schemaVersion: 1, source: 'segment' },
          }));
          await store.append(`customer-${userId}`, events, { expectedRevision: from === 0 ? 'no_stream' : from - 1 });
        }
      } finally {
        await store.close();
      }
    }
    const ingestedAt = performance.now();
    await settled(baseUrl, heavy ? 3_600_000 : 120_000);
    const projectedAt = performance.now();
    const ingestionPeak = ingestion.stop();
    const { rows } = await database.query<{ events: number; last: number; megabytes: number }>(
      'SELECT count(*)::int AS events, max(revision)::int AS last, (sum(pg_column_size(e.*)) / 1048576)::int AS megabytes FROM event_store_events e WHERE stream = $1',
      [`customer-${userId}`],
    );
    expect(rows[0]).toMatchObject({ events: LONG_STREAM, last: LONG_STREAM - 1 });

    // A rebuild by replay, and meanwhile the whole timeline, a page at a time, oldest first, every position once.
    const baseline = rssMegabytes(pid);
    const sampler = new RssSampler(pid).start();
    const rebuilding = rebuildAll(baseUrl, heavy ? 7_200_000 : 120_000, REBUILT).then(() => performance.now());
    let after: string | null = null;
    let previous = -1;
    let pages = 0;
    do {
      const answer = await graphqlAt(
        baseUrl,
        'query($id: ID!, $first: Int!, $after: String) { customer(id: $id) { timeline(first: $first, after: $after) { edges { node { streamPosition type } } pageInfo { hasNextPage endCursor } } } }',
        { id: userId, first: PAGE, after },
        apiKeys.analyst,
      );
      const timeline = answer.body?.data?.customer?.timeline;
      if (!timeline) throw new Error(`page ${pages} failed: ${describeAnswer(answer)}`);
      for (const { node } of timeline.edges) {
        if (node.streamPosition !== previous + 1) throw new Error(`page ${pages}: position ${node.streamPosition} after ${previous}`);
        previous = node.streamPosition;
      }
      pages += 1;
      after = timeline.pageInfo.hasNextPage ? timeline.pageInfo.endCursor : null;
    } while (after);
    const pagedAt = performance.now();
    expect(previous).toBe(LONG_STREAM - 1);
    const rebuiltAt = await rebuilding;
    const peak = sampler.stop();
    const customer = await graphqlAt(baseUrl, 'query($id: ID!) { customer(id: $id) { version metrics { events pageViews } } }', { id: userId }, apiKeys.analyst);
    expect(customer.body.data.customer).toEqual({ version: LONG_STREAM - 1, metrics: { events: LONG_STREAM, pageViews: LONG_STREAM } });

    report('long stream', {
      events: LONG_STREAM,
      storedMb: rows[0]!.megabytes,
      ingestSeconds: (ingestedAt - started) / 1000,
      projectSeconds: (projectedAt - ingestedAt) / 1000,
      pages,
      pagingSeconds: (pagedAt - projectedAt) / 1000,
      rebuilt: REBUILT,
      rebuildSeconds: (rebuiltAt - projectedAt) / 1000,
      rssPeakWhileIngestingAndProjectingMb: ingestionPeak,
      rssBeforePagingAndRebuildMb: baseline,
      rssPeakWhilePagingAndRebuildingMb: peak,
      heapLimitMb: HEAP_LIMIT_MB,
      boundMb: baseline + RSS_GROWTH_BOUND_MB,
    });
    expect(server.child.exitCode).toBeNull();
    expect(peak).toBeLessThan(baseline + RSS_GROWTH_BOUND_MB);
  }, heavy ? 10_800_000 : 180_000);
});
