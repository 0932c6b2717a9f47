import { gzipSync } from 'node:zlib';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import type { Trailmap } from '../src/app.js';
import { Database } from '../src/modules/database/database.js';
import { STREAM_LOCK_SPACE } from '../src/modules/event-store/postgres/postgres-event-store.js';
import { apiKeys, bootTrailmap, graphql } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

describe('the server', () => {
  let database: TestDatabase;
  let trailmap: Trailmap;

  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false });
    trailmap = await bootTrailmap(database.url);
  });

  afterAll(async () => {
    await trailmap?.stop();
    await database?.drop();
  });

  it('answers a GraphQL query at /graphql', async () => {
    const response = await graphql(trailmap, '{ __typename }');
    expect(response).toEqual({ data: { __typename: 'Query' } });
  });

  it('answers a GraphQL POST alike whether Apollo takes it directly or through express', async () => {
    const post = (body: RequestInit['body'], headers: Record<string, string> = {}) =>
      fetch(trailmap.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKeys.analyst}`, ...headers }, body, duplex: 'half' } as RequestInit);
    const query = JSON.stringify({ query: '{ __typename }' });
    // Plain JSON is answered directly; a compressed body or another charset goes through express's body-parser.
    for (const [body, headers] of [
      [query, {}],
      [query, { 'content-type': 'application/json; charset=UTF-8' }],
      [`\uFEFF${query}`, {}],
      [gzipSync(query), { 'content-encoding': 'gzip' }],
    ] as [RequestInit['body'], Record<string, string>][]) {
      const response = await post(body, headers);
      expect({ status: response.status, body: await response.json() }).toEqual({ status: 200, body: { data: { __typename: 'Query' } } });
      expect(response.headers.get('x-powered-by')).toBeNull();
    }

    const refusal = async (response: Response) => ({ status: response.status, body: await response.json() });
    const tooLarge = { status: 413, body: { success: false, code: 'BAD_USER_INPUT', message: 'The request body is larger than this endpoint accepts (1048576 bytes).' } };
    const padded = JSON.stringify({ query: '{ __typename }', variables: { padding: 'x'.repeat(1_100_000) } });
    expect(await refusal(await post(padded))).toEqual(tooLarge);
    // Without a declared length (chunked), the limit holds while reading.
    const chunked = new ReadableStream({ start: (controller) => (controller.enqueue(new TextEncoder().encode(padded)), controller.close()) });
    expect(await refusal(await post(chunked))).toEqual(tooLarge);
    expect(await refusal(await post(Buffer.from([0x7b, 0xff, 0x7d])))).toEqual({
      status: 400,
      body: { success: false, code: 'BAD_USER_INPUT', message: 'The request body is not valid UTF-8.' },
    });
    for (const invalid of ['{"query": ', '"{ __typename }"']) {
      const { status, body } = await refusal(await post(invalid));
      expect(status).toBe(400);
      expect(body).toMatchObject({ success: false, code: 'BAD_USER_INPUT', message: expect.stringMatching(/^The request body is not valid JSON: /) });
    }
    // The server still answers on the same connections afterwards.
    expect(await (await post(query)).json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('answers a Segment call alike whether the Segment API takes it directly or through express', async () => {
    const basic = `Basic ${Buffer.from(`${apiKeys.ingest}:`).toString('base64')}`;
    const post = (path: string, body: RequestInit['body'], headers: Record<string, string> = {}) =>
      fetch(`${trailmap.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic, ...headers }, body, duplex: 'half' } as RequestInit);
    const answer = async (response: Response) => ({ status: response.status, type: response.headers.get('content-type'), body: await response.json() });
    const track = (messageId: string) => JSON.stringify({ userId: 'segment-doors', event: 'Product Viewed', messageId, properties: { product_id: 'p-1' } });
    const batch = (messageId: string) => JSON.stringify({ batch: [{ type: 'page', userId: 'segment-doors', messageId, name: 'Home' }] });
    // Plain JSON (or text/plain, as Segment's browser library sends) is taken directly; a compressed body,
    // another spelling of the path, goes through express's body-parser and the controller.
    const accepted = { status: 200, type: 'application/json; charset=utf-8', body: { success: true } };
    const sent: [string, RequestInit['body'], Record<string, string>][] = [
      ['/v1/track', track('direct-json'), {}],
      ['/v1/track', track('direct-text'), { 'content-type': 'text/plain' }],
      ['/v1/track', track('direct-charset'), { 'content-type': 'application/json; charset=utf-8' }],
      ['/v1/track', `\uFEFF${track('direct-bom')}`, {}],
      ['/v1/batch', batch('direct-batch'), {}],
      ['/v1/track', gzipSync(track('express-gzip')), { 'content-encoding': 'gzip' }],
      ['/v1/BATCH', batch('express-batch'), {}],
    ];
    for (const [path, body, headers] of sent) {
      const response = await post(path, body, headers);
      expect(await answer(response)).toEqual(accepted);
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
    const { rows } = await trailmap.app.get(Database).query<{ count: number }>("SELECT count(*)::int AS count FROM event_store_events WHERE stream = 'customer-segment-doors'");
    expect(rows[0]!.count).toBe(sent.length);

    // The same refusals either way.
    const bothWays = async (path: string, body: string, headers: Record<string, string> = {}) => {
      const direct = await answer(await post(path, body, headers));
      const viaExpress = await answer(await post(path, gzipSync(body), { ...headers, 'content-encoding': 'gzip' }));
      expect(viaExpress).toEqual(direct);
      return direct;
    };
    expect(await bothWays('/v1/track', JSON.stringify({ userId: 'segment-doors', properties: {} }))).toMatchObject({
      status: 400,
      body: { success: false, code: 'BAD_USER_INPUT', errors: [expect.objectContaining({ field: 'type' })] },
    });
    expect(await bothWays('/v1/track', track('no-key'), { authorization: '' })).toMatchObject({ status: 401, body: { success: false, code: 'UNAUTHENTICATED' } });
    expect(await bothWays('/v1/track', track('not-ingest'), { authorization: `Bearer ${apiKeys.analyst}` })).toMatchObject({ status: 403, body: { success: false, code: 'FORBIDDEN' } });
    expect(await bothWays('/v1/batch', JSON.stringify([{ type: 'track' }]))).toMatchObject({ status: 400, body: { errors: [{ field: 'body', rule: 'type' }] } });
    expect(await bothWays('/v1/batch', JSON.stringify({ batch: 'none' }))).toMatchObject({ status: 400, body: { errors: [{ field: 'batch', rule: 'type' }] } });

    const tooLarge = { status: 413, type: 'application/json; charset=utf-8', body: { success: false, code: 'BAD_USER_INPUT', message: 'The request body is larger than this endpoint accepts (512000 bytes).' } };
    const padded = JSON.stringify({ userId: 'segment-doors', event: 'Product Viewed', properties: { padding: 'x'.repeat(520_000) } });
    expect(await answer(await post('/v1/track', padded))).toEqual(tooLarge);
    expect(await answer(await post('/v1/track', gzipSync(padded), { 'content-encoding': 'gzip' }))).toEqual(tooLarge);
    expect(await answer(await post('/v1/track', Buffer.from([0x7b, 0xff, 0x7d])))).toMatchObject({ status: 400, body: { message: 'The request body is not valid UTF-8.' } });
    for (const invalid of ['{"userId": ', '"track"']) {
      expect(await answer(await post('/v1/track', invalid))).toMatchObject({ status: 400, body: { code: 'BAD_USER_INPUT', message: expect.stringMatching(/^The request body is not valid JSON: /) } });
    }
    expect((await trailmap.app.get(Database).query<{ count: number }>("SELECT count(*)::int AS count FROM event_store_events WHERE stream = 'customer-segment-doors'")).rows[0]!.count).toBe(sent.length);
  });

  it('is live and ready once the database answers and migrations are applied', async () => {
    const live = await fetch(`${trailmap.url}/health/live`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${trailmap.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok' });
  });

  it('is not ready while a migration of this build is missing from the database', async () => {
    const pool = trailmap.app.get(Database);
    const { rows } = await pool.query<{ name: string }>('DELETE FROM trailmap_migrations WHERE id = (SELECT max(id) FROM trailmap_migrations) RETURNING *');
    try {
      const ready = await fetch(`${trailmap.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'unavailable', reason: `migrations not applied: ${rows[0]!.name}` });
    } finally {
      await pool.query('INSERT INTO trailmap_migrations SELECT (json_populate_record(null::trailmap_migrations, $1)).*', [JSON.stringify(rows[0])]);
    }
    expect((await fetch(`${trailmap.url}/health/ready`)).status).toBe(200);
  });

  it('accepts graphql-ws connections on the same path', async () => {
    const client = createClient({
      url: trailmap.graphqlUrl.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${apiKeys.support}` },
    });
    try {
      const result = await new Promise((resolve, reject) => {
        client.subscribe({ query: '{ __typename }' }, { next: resolve, error: reject, complete: () => undefined });
      });
      expect(result).toEqual({ data: { __typename: 'Query' } });
    } finally {
      await client.dispose();
    }
  });
});

describe('a graceful shutdown', () => {
  it('finishes the requests in flight before closing the database', async () => {
    const database = await createTestDatabase();
    const trailmap = await bootTrailmap(database.url);
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      const record = (userId: string) =>
        graphql<{ recordEvents: { results: { duplicate: boolean }[] } }>(
          trailmap,
          'mutation($events: [EventInput!]!) { recordEvents(events: $events) { results { duplicate } } }',
          { events: [{ type: 'Page Viewed', userId }] },
          apiKeys.ingest,
        );
      await record('held');
      // Hold the stream's append lock: the next append to it waits inside its request.
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(${STREAM_LOCK_SPACE}, hashtext('customer-held') & 1023)`);
      const inFlight = record('held');
      await new Promise((resolve) => setTimeout(resolve, 200));
      let stopped = false;
      const stopping = trailmap.stop().then(() => (stopped = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(stopped).toBe(false);
      await expect(fetch(`${trailmap.url}/health/live`)).rejects.toThrow();

      await holder.query('COMMIT');
      expect((await inFlight).data!.recordEvents.results).toEqual([{ duplicate: false }]);
      await stopping;
      const { rows } = await holder.query("SELECT count(*)::int AS count FROM event_store_events WHERE stream = 'customer-held'");
      expect(rows[0].count).toBe(2);
    } finally {
      await holder.end();
      await trailmap.stop();
      await database.drop();
    }
  });
});
