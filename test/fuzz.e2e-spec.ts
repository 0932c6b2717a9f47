import { performance } from 'node:perf_hooks';
import { Database } from '../src/modules/database/database.js';
import { apiKeys } from './support/app.js';
import { acknowledged, describeAnswer, graphqlAt, post, RECORD_EVENTS, type Answer } from './support/clients.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { stateDigest } from './support/event-log.js';
import { fuzzRequest, INJECTIONS, type FuzzRequest } from './support/fuzz.js';
import { report } from './support/measure.js';
import { serverOn, settled } from './support/operations.js';
import { ServerProcess } from './support/process.js';

const heavy = process.env.TRAILMAP_HEAVY_TESTS === '1';
/** Reproducible: the same seed sends the same requests; TRAILMAP_FUZZ_SEED picks another sequence. */
const SEED = Number(process.env.TRAILMAP_FUZZ_SEED ?? 20_261_126);
const REQUESTS = heavy ? 100_000 : 10_000;
const CONCURRENCY = 12;

/** How the server answered a request that must be refused: `refused`, or what went wrong. */
function verdict(request: FuzzRequest, answer: Answer): 'refused' | 'no answer' | 'HTTP 5xx' | 'INTERNAL_SERVER_ERROR' | 'accepted' {
  if (answer.networkError) return 'no answer';
  if (answer.status >= 500) return 'HTTP 5xx';
  const errors: { extensions?: { code?: string } }[] | undefined = Array.isArray(answer.body?.errors) ? answer.body.errors : undefined;
  if (request.door !== 'segment' && errors?.some((error) => error.extensions?.code === 'INTERNAL_SERVER_ERROR')) return 'INTERNAL_SERVER_ERROR';
  if (answer.status >= 400) return 'refused';
  return request.door !== 'segment' && errors && errors.length > 0 ? 'refused' : 'accepted';
}

describe('fuzzing both ingestion doors and the GraphQL read API with malformed requests (real server process)', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let server: ServerProcess;
  let baseUrl: string;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 2);
    ({ server, url: baseUrl } = await serverOn(testDatabase.url));
    // Something for the reads to find: five customers, one with a linked anonymous history.
    const at = (minute: number) => new Date(Date.UTC(2026, 10, 1, 9, minute)).toISOString();
    const events = Array.from({ length: 5 }, (_, n) => [
      { id: `seed-${n}-0`, type: 'Page Viewed', anonymousId: `seed-anon-${n}`, occurredAt: at(0), properties: { path: '/', search: '?q=shoes' } },
      { id: `seed-${n}-1`, type: 'Identified', userId: `seed-${n}`, anonymousId: `seed-anon-${n}`, occurredAt: at(1), traits: { email: `seed${n}@example.com`, name: `Seed ${n}` } },
      { id: `seed-${n}-2`, type: 'Product Viewed', userId: `seed-${n}`, occurredAt: at(2), properties: { product_id: `p-${n}`, price: 10 } },
      { id: `seed-${n}-3`, type: 'Order Completed', userId: `seed-${n}`, occurredAt: at(3), properties: { order_id: `o-${n}`, total: 10, currency: 'EUR', products: [{ product_id: `p-${n}` }] } },
    ]).flat();
    const seeded = await graphqlAt(baseUrl, RECORD_EVENTS, { events }, apiKeys.ingest);
    if (!acknowledged(seeded)) throw new Error(`seeding failed: ${describeAnswer(seeded)}`);
    await settled(baseUrl);
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await database?.end();
    await testDatabase?.drop();
  });

  it(`refuses ${REQUESTS.toLocaleString('en')} generated malformed requests with a 4xx or a GraphQL error, never crashes, and changes nothing`, async () => {
    const before = await stateDigest(database);
    const failures: { index: number; door: string; flaw: string; verdict: string; answer: string; path: string; body: string }[] = [];
    const byDoor: Record<string, number> = {};
    const byStatus: Record<string, number> = {};
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < REQUESTS) {
        const index = next++;
        const request = fuzzRequest(SEED, index);
        const answer = await post(`${baseUrl}${request.path}`, request.body, request.headers);
        const outcome = verdict(request, answer);
        byDoor[request.door] = (byDoor[request.door] ?? 0) + 1;
        byStatus[answer.status] = (byStatus[answer.status] ?? 0) + 1;
        if (outcome !== 'refused') failures.push({ index, door: request.door, flaw: request.flaw, verdict: outcome, answer: describeAnswer(answer), path: request.path, body: request.body.toString().slice(0, 1_500) });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - started) / 1000;

    const alive = server.child.exitCode === null && server.child.signalCode === null;
    const ready = alive ? (await fetch(`${baseUrl}/health/ready`)).status : 0;
    await settled(baseUrl);
    const after = await stateDigest(database);
    // A refusal is the caller's doing: nothing of it is logged at error level (50) or above.
    const errorLines = server.output.filter((line) => /"level":(50|60)/.test(line));
    report('fuzz', { seed: SEED, requests: REQUESTS, seconds, requestsPerSecond: REQUESTS / seconds, byDoor, byStatus, failures: failures.length, errorLogLines: errorLines.length });

    // TRAILMAP_FUZZ_FAILURES=<file> writes every failure, to study a run.
    if (process.env.TRAILMAP_FUZZ_FAILURES) await import('node:fs/promises').then((fs) => fs.writeFile(process.env.TRAILMAP_FUZZ_FAILURES!, JSON.stringify({ failures, errorLines }, null, 1)));
    expect(failures.slice(0, 25).map(({ body, ...failure }) => failure)).toEqual([]);
    expect(alive).toBe(true);
    expect(ready).toBe(200);
    expect(errorLines.slice(0, 5)).toEqual([]);
    expect(after).toEqual(before);
  }, 240_000);

  it('takes injection strings as data: lookups find nothing, and events carrying them in every field are stored and read back verbatim', async () => {
    for (const value of INJECTIONS) {
      const lookup = await graphqlAt(
        baseUrl,
        'query($value: String!, $id: ID!) { byEmail: customerByIdentity(kind: EMAIL, value: $value) { id } byId: customer(id: $id) { id } customers(first: 1) { totalCount } }',
        { value, id: value },
        apiKeys.support,
      );
      expect(lookup.body).toEqual({ data: { byEmail: null, byId: null, customers: { totalCount: 5 } } });
    }

    // The hostile value is the user id itself ("__proto__", "constructor", "' OR '1'='1"…), a trait name, a property name, a ticket id.
    const pageViews = INJECTIONS.map((value, index) => ({
      id: `injection-${index}-${value}`,
      type: 'Page Viewed',
      userId: value,
      anonymousId: `injection-anon-${index}-${value}`,
      channel: value.slice(0, 64),
      occurredAt: new Date(Date.UTC(2026, 10, 2, 9, index)).toISOString(),
      properties: { path: value, title: value, name: value, [value]: value },
      traits: { note: value, [value]: [value] },
    }));
    const tickets = INJECTIONS.map((value, index) => ({
      id: `injection-ticket-${index}-${value}`,
      type: 'Support Ticket Created',
      userId: value,
      occurredAt: new Date(Date.UTC(2026, 10, 2, 10, index)).toISOString(),
      properties: { ticket_id: value, subject: value },
    }));
    const recorded = await graphqlAt(baseUrl, RECORD_EVENTS, { events: [...pageViews, ...tickets] }, apiKeys.ingest);
    expect(describeAnswer(recorded)).toMatch(/^200 \{"data":\{"recordEvents"/);
    await settled(baseUrl);
    for (const event of pageViews) {
      const read = await graphqlAt(
        baseUrl,
        'query($id: ID!) { customer(id: $id) { id version channels traits metrics { events openSupportTickets } timeline(first: 5) { edges { node { channel properties traits } } } } }',
        { id: event.userId },
        apiKeys.support,
      );
      expect(read.body.errors).toBeUndefined();
      expect(read.body.data.customer).toEqual({
        id: event.userId,
        version: 2,
        channels: [event.channel],
        traits: event.traits,
        metrics: { events: 3, openSupportTickets: 1 },
        timeline: { edges: expect.arrayContaining([{ node: { channel: event.channel, properties: event.properties, traits: event.traits } }]) },
      });
    }
    const { rows } = await database.query<{ count: number }>('SELECT count(*)::int AS count FROM customer_profiles WHERE merged_into IS NULL');
    expect(rows[0]!.count).toBe(5 + INJECTIONS.length);
  }, 120_000);
});
