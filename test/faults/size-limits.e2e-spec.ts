import { randomUUID } from 'node:crypto';
import { storedEventId } from '../../src/domain/ingestion/incoming-event.js';
import { Database } from '../../src/modules/database/database.js';
import { apiKeys } from '../support/app.js';
import { acknowledged, describeAnswer, graphqlAt, RECORD_EVENTS, segmentAt } from '../support/clients.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { report } from '../support/measure.js';
import { serverOn } from '../support/operations.js';
import { ServerProcess } from '../support/process.js';

const SEGMENT_BODY_LIMIT = 512_000; // express's '500kb'
const SEGMENT_BATCH_LIMIT = 2_500;
const RECORD_EVENTS_LIMIT = 1_000;

const stamp = (index: number) => new Date(Date.UTC(2025, 0, 1) + index * 30_000).toISOString();

describe('size limits: the largest batches (real server process)', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let server: ServerProcess;
  let baseUrl: string;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 2);
    ({ server, url: baseUrl } = await serverOn(testDatabase.url));
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await database?.end();
    await testDatabase?.drop();
  });

  const stored = async (ids: string[]) =>
    (await database.query<{ count: number }>('SELECT count(*)::int AS count FROM event_store_events WHERE id = ANY($1::uuid[])', [ids])).rows[0]!.count;

  /** A `/v1/batch` body of `count` page calls for one user, each padded so that the body comes close to `targetBytes`. */
  const segmentBatch = (userId: string, count: number, targetBytes: number, from = 0) => {
    const message = (index: number, padding: string) => ({
      type: 'page',
      messageId: `${userId}-${from + index}`,
      userId,
      name: 'Catalog',
      properties: { path: `/catalog/${from + index}`, title: padding },
      timestamp: stamp(from + index),
    });
    const bare = JSON.stringify({ batch: Array.from({ length: count }, (_, index) => message(index, '')) }).length;
    const padding = 'x'.repeat(Math.max(0, Math.floor((targetBytes - bare) / count)));
    const batch = Array.from({ length: count }, (_, index) => message(index, padding));
    return { body: JSON.stringify({ batch }), batch, ids: batch.map((entry) => storedEventId(`segment:${entry.messageId}`)) };
  };

  it('accepts the largest batches whole, refuses one event more or one invalid event with nothing stored', async () => {
    const userId = `largest-${randomUUID().slice(0, 8)}`;
    const largest = segmentBatch(userId, SEGMENT_BATCH_LIMIT, SEGMENT_BODY_LIMIT - 2_000);
    expect(Buffer.byteLength(largest.body)).toBeLessThanOrEqual(SEGMENT_BODY_LIMIT);
    expect(Buffer.byteLength(largest.body)).toBeGreaterThan(480_000);
    const accepted = await segmentAt(baseUrl, 'batch', largest.body);
    expect(describeAnswer(accepted)).toBe('200 {"success":true}');
    expect(await stored(largest.ids)).toBe(SEGMENT_BATCH_LIMIT);

    const tooMany = segmentBatch(userId, SEGMENT_BATCH_LIMIT + 1, 300_000, 10_000);
    expect((await segmentAt(baseUrl, 'batch', tooMany.body)).status).toBe(400);
    const oneInvalid = segmentBatch(userId, SEGMENT_BATCH_LIMIT, 300_000, 20_000);
    oneInvalid.batch[SEGMENT_BATCH_LIMIT - 1]!.timestamp = 'yesterday';
    const refused = await segmentAt(baseUrl, 'batch', JSON.stringify({ batch: oneInvalid.batch }));
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([expect.objectContaining({ index: SEGMENT_BATCH_LIMIT - 1, field: 'occurredAt' })]);
    const oversized = segmentBatch(userId, 2_000, SEGMENT_BODY_LIMIT + 1_000, 30_000);
    const oversizedAnswer = await segmentAt(baseUrl, 'batch', oversized.body);
    expect(oversizedAnswer.status).toBe(413);
    expect(await stored([...tooMany.ids, ...oneInvalid.ids, ...oversized.ids])).toBe(0);

    const events = (count: number, from: number) =>
      Array.from({ length: count }, (_, index) => ({ id: `${userId}-graphql-${from + index}`, type: 'Page Viewed', userId, occurredAt: stamp(from + index), properties: { path: `/g/${from + index}` } }));
    const idsOf = (list: { id: string }[]) => list.map((event) => storedEventId(event.id));
    const thousand = events(RECORD_EVENTS_LIMIT, 0);
    const recorded = await graphqlAt(baseUrl, RECORD_EVENTS, { events: thousand }, apiKeys.ingest);
    expect(acknowledged(recorded)).toBe(true);
    expect(recorded.body.data.recordEvents.results).toHaveLength(RECORD_EVENTS_LIMIT);
    expect(await stored(idsOf(thousand))).toBe(RECORD_EVENTS_LIMIT);
    const thousandAndOne = events(RECORD_EVENTS_LIMIT + 1, 5_000);
    const overLimit = await graphqlAt(baseUrl, RECORD_EVENTS, { events: thousandAndOne }, apiKeys.ingest);
    expect(overLimit.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(await stored(idsOf(thousandAndOne))).toBe(0);

    const { rows } = await database.query<{ events: number; last: number }>('SELECT count(*)::int AS events, max(revision)::int AS last FROM event_store_events WHERE stream = $1', [`customer-${userId}`]);
    expect(rows[0]).toEqual({ events: SEGMENT_BATCH_LIMIT + RECORD_EVENTS_LIMIT, last: SEGMENT_BATCH_LIMIT + RECORD_EVENTS_LIMIT - 1 });
    report('largest batches', {
      segmentBatchBytes: Buffer.byteLength(largest.body),
      segmentBatchOf2500Ms: accepted.ms,
      recordEventsOf1000Ms: recorded.ms,
      oversizedRefusedMs: oversizedAnswer.ms,
    });
  }, 60_000);
});
