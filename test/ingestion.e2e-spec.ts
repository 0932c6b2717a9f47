import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Analytics } from '@segment/analytics-node';
import type { Trailmap } from '../src/app.js';
import { Database } from '../src/modules/database/database.js';
import type { StoredEvent } from '../src/modules/event-store/event-store.port.js';
import { PostgresEventStore } from '../src/modules/event-store/postgres/postgres-event-store.js';
import { KeyVault } from '../src/modules/privacy/key-vault.js';
import { unseal, type SealedEnvelope } from '../src/modules/privacy/sealing.js';
import { apiKeys, bootTrailmap, graphql } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { until } from './support/operations.js';

const RECORD = `mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id customerId duplicate } } }`;

describe('ingestion', () => {
  let testDatabase: TestDatabase;
  let trailmap: Trailmap;
  let database: Database;
  let store: PostgresEventStore;

  beforeAll(async () => {
    testDatabase = await createTestDatabase({ migrated: false });
    trailmap = await bootTrailmap(testDatabase.url);
    database = new Database(testDatabase.url, 4);
    store = new PostgresEventStore(database);
  });

  afterAll(async () => {
    await trailmap?.stop();
    await store?.close();
    await database?.end();
    await testDatabase?.drop();
  });

  const unique = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const streamOf = async (customerId: string): Promise<StoredEvent[]> => {
    const events: StoredEvent[] = [];
    for await (const event of store.readStream(`customer-${customerId}`)) events.push(event);
    return events;
  };
  const waiting = async (pattern: string) =>
    Number(
      (await database.query<{ count: string }>(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`, [pattern])).rows[0]!.count,
    );
  const within = <T>(answer: Promise<T>, ms: number, what: string): Promise<T> =>
    Promise.race([answer, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} was not answered within ${ms} ms`)), ms).unref())]);
  /** Requests whose events are appended and whose link waits for identity_links. */
  const waitingToLink = () => waiting('INSERT INTO identity_links%');
  /** Requests waiting for another's lock on an anonymous id. */
  const waitingForLinkLocks = () => waiting('SELECT pg_advisory_xact_lock(hashtextextended(hash%');
  const eventCount = async () => Number((await database.query<{ count: string }>('SELECT count(*) FROM event_store_events')).rows[0]!.count);
  const record = (events: unknown[], key: string = apiKeys.ingest) => graphql<{ recordEvents: { results: { id: string; customerId: string; duplicate: boolean }[] } }>(trailmap, RECORD, { events }, key);
  const segment = (path: string, body: unknown, writeKey: string | null = apiKeys.ingest) =>
    fetch(`${trailmap.url}/v1/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(writeKey && { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` }) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  describe('through GraphQL recordEvents', () => {
    it("appends an event to its customer's stream with the producer's time and the catalog's schema version", async () => {
      const userId = unique('u');
      const response = await record([{ type: 'Product Viewed', userId, occurredAt: '2026-11-20T09:30:00.000Z', channel: 'web', properties: { product_id: 'p-1', price: 12.5 } }]);
      expect(response.errors).toBeUndefined();
      const [result] = response.data!.recordEvents.results;
      expect(result).toEqual({ id: expect.any(String), customerId: userId, duplicate: false });
      const [stored] = await streamOf(userId);
      expect(stored).toMatchObject({
        id: result!.id,
        type: 'Product Viewed',
        revision: 0,
        data: { userId, channel: 'web', properties: { product_id: 'p-1', price: 12.5 } },
        metadata: { occurredAt: '2026-11-20T09:30:00.000Z', schemaVersion: 1, source: 'graphql', correlationId: expect.any(String) },
      });
    });

    it('stores a retried request once and reports its events as duplicates', async () => {
      const userId = unique('u');
      const events = [
        { id: randomUUID(), type: 'Page Viewed', userId, properties: { path: '/' } },
        { id: 'producer-key-1-' + userId, type: 'Product Added', userId, properties: { product_id: 'p-2' } },
      ];
      const first = await record(events);
      const retry = await record(events);
      expect(first.data!.recordEvents.results.map((result) => result.duplicate)).toEqual([false, false]);
      expect(retry.data!.recordEvents.results).toEqual(first.data!.recordEvents.results.map((result) => ({ ...result, duplicate: true })));
      expect(await streamOf(userId)).toHaveLength(2);
    });

    it('rejects a whole batch when one event is invalid, naming every problem, and stores nothing', async () => {
      const before = await eventCount();
      const response = await record([
        { type: 'Page Viewed', userId: unique('u') },
        { type: 'Order Completed', userId: unique('u'), properties: { revenue: 'lots' } },
        { type: 'Order Complete', userId: unique('u') },
      ]);
      expect(response.data).toBeNull();
      expect(response.errors![0]!.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        problems: expect.arrayContaining([
          { index: 1, field: 'properties.order_id', rule: 'required', message: expect.stringContaining('order_id') },
          { index: 1, field: 'properties.revenue', rule: 'type', message: expect.stringContaining('revenue') },
          { index: 2, field: 'type', rule: 'unknown_event_type', message: expect.stringContaining('Order Complete') },
        ]),
      });
      expect(await eventCount()).toBe(before);
    });

    it.each([
      ['no customer id', { type: 'Page Viewed' }, 'userId', 'required'],
      ['a time far in the future', { type: 'Page Viewed', userId: 'u', occurredAt: '2099-01-01T00:00:00Z' }, 'occurredAt', 'range'],
      ['a type only Trailmap writes', { type: 'Customer Went Dormant', userId: 'u' }, 'type', 'reserved'],
      ['a user id posing as an anonymous one', { type: 'Page Viewed', userId: 'anon:x' }, 'userId', 'pattern'],
      ['a NUL character', { type: 'Page Viewed', userId: 'u', properties: { title: 'a\u0000b' } }, 'properties.title', 'invalid_character'],
      ['an event over 32 KB', { type: 'Page Viewed', userId: 'u', properties: { title: 'x'.repeat(33_000) } }, 'event', 'max_size'],
      ['deep nesting', { type: 'Page Viewed', userId: 'u', properties: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) }, expect.any(String), 'max_depth'],
      ['a link without the anonymous id', { type: 'Identity Linked', userId: 'u' }, 'properties.previous_id', 'required'],
      ['an over-long id', { type: 'Page Viewed', userId: 'u'.repeat(300) }, 'userId', 'max_length'],
    ])('rejects an event with %s', async (_case, event, field, rule) => {
      const before = await eventCount();
      const response = await record([event]);
      expect(response.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', problems: expect.arrayContaining([expect.objectContaining({ index: 0, field, rule })]) });
      expect(await eventCount()).toBe(before);
    });

    it('rejects a malformed time at the GraphQL layer, naming the field', async () => {
      const response = await record([{ type: 'Page Viewed', userId: 'u', occurredAt: '2026-13-45T99:00:00Z' }]);
      expect(response.errors![0]).toMatchObject({ message: expect.stringContaining('occurredAt'), extensions: { code: 'BAD_USER_INPUT' } });
    });

    it('caps the events of one call', async () => {
      const events = Array.from({ length: 1_001 }, () => ({ type: 'Page Viewed', userId: 'u' }));
      const response = await record(events);
      expect(response.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'events', rule: 'max_items', message: expect.any(String) }] });
    });

    it('refuses callers without a key or without the ingest role', async () => {
      const anonymous = await record([{ type: 'Page Viewed', userId: 'u' }], '');
      expect(anonymous.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
      const analyst = await record([{ type: 'Page Viewed', userId: 'u' }], apiKeys.analyst);
      expect(analyst.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    });
  });

  describe('identity resolution', () => {
    it('keeps anonymous history in its own stream, links it on identify, and routes later anonymous events to the user', async () => {
      const anonymousId = unique('a');
      const userId = unique('u');
      await record([
        { type: 'Ad Clicked', anonymousId, properties: { ad_id: 'ad-1' } },
        { type: 'Product Viewed', anonymousId, properties: { product_id: 'p-1' } },
      ]);
      const identified = await record([{ type: 'Identified', userId, anonymousId, traits: { email: 'ada@example.com' } }]);
      expect(identified.data!.recordEvents.results[0]!.customerId).toBe(userId);
      const later = await record([{ type: 'Product Added', anonymousId, properties: { product_id: 'p-1' } }]);
      expect(later.data!.recordEvents.results[0]!.customerId).toBe(userId);

      expect((await streamOf(`anon:${anonymousId}`)).map((event) => event.type)).toEqual(['Ad Clicked', 'Product Viewed']);
      const userStream = await streamOf(userId);
      expect(userStream.map((event) => event.type)).toEqual(['Identity Linked', 'Identified', 'Product Added']);
      expect(userStream[0]!.data).toMatchObject({ userId, anonymousId, properties: { previous_id: anonymousId } });
      expect(userStream[0]!.metadata.causationId).toBe(userStream[1]!.id);
    });

    it('links through an explicit Identity Linked event, once, even when sent again', async () => {
      const anonymousId = unique('a');
      const userId = unique('u');
      const link = { id: randomUUID(), type: 'Identity Linked', userId, properties: { previous_id: anonymousId } };
      await record([link]);
      await record([link]);
      await record([{ type: 'Page Viewed', anonymousId, userId }]);
      expect((await streamOf(userId)).map((event) => event.type)).toEqual(['Identity Linked', 'Page Viewed']);
    });

    it('treats an anonymous event sent again after sign-in as the duplicate it is', async () => {
      const anonymousId = unique('a');
      const userId = unique('u');
      const browsing = { id: randomUUID(), type: 'Product Viewed', anonymousId, properties: { product_id: 'p-1' } };
      await record([browsing]);
      await record([{ type: 'Identified', anonymousId, userId }]);
      const resent = await record([browsing, { type: 'Cart Viewed', anonymousId }]);
      expect(resent.errors).toBeUndefined();
      expect(resent.data!.recordEvents.results.map(({ customerId, duplicate }) => [customerId, duplicate])).toEqual([
        [userId, true],
        [userId, false],
      ]);
      expect((await streamOf(`anon:${anonymousId}`)).map((event) => event.id)).toEqual([browsing.id]);
      expect((await streamOf(userId)).map((event) => event.type)).toEqual(['Identity Linked', 'Identified', 'Cart Viewed']);
    });

    it('refuses to link an anonymous id to a second user, and stores nothing of that request', async () => {
      const anonymousId = unique('a');
      await record([{ type: 'Signed Up', anonymousId, userId: unique('first') }]);
      const before = await eventCount();
      const second = unique('second');
      const response = await record([
        { type: 'Page Viewed', userId: second },
        { type: 'Identified', anonymousId, userId: second },
      ]);
      expect(response.errors![0]!.extensions).toMatchObject({
        code: 'CONFLICT',
        problems: [{ index: 1, field: 'anonymousId', rule: 'already_linked', message: expect.any(String) }],
      });
      expect(await eventCount()).toBe(before);
      expect(await streamOf(second)).toEqual([]);
    });

    it("does not hold a request back on another request's link of the same visitor to the same user", async () => {
      const anonymousId = unique('a');
      const userId = unique('u');
      // The first request's link is held open after its events are appended: identity_links is locked until this client commits.
      const blocker = await database.pool.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE identity_links IN EXCLUSIVE MODE');
        const first = record([{ type: 'Signed Up', anonymousId, userId }]);
        await until(async () => (await waitingToLink()) === 1, 'the first request waiting to record its link', 10_000);

        const next = await within(record([{ type: 'Page Viewed', anonymousId, userId }]), 5_000, 'the next request of the visitor');
        expect(next.errors).toBeUndefined();
        expect(next.data!.recordEvents.results[0]).toMatchObject({ customerId: userId, duplicate: false });
        // Another user for the same visitor still waits for the first link's outcome, and is then refused.
        const other = record([{ type: 'Identified', anonymousId, userId: unique('other') }]);
        await until(async () => (await waitingForLinkLocks()) === 1, 'the other user waiting for the link lock', 10_000);
        expect(await waitingToLink()).toBe(1);

        await blocker.query('COMMIT');
        expect((await first).errors).toBeUndefined();
        expect((await other).errors![0]!.extensions).toMatchObject({ code: 'CONFLICT' });
      } finally {
        await blocker.query('ROLLBACK').catch(() => undefined);
        blocker.release();
      }
      expect((await streamOf(userId)).map((event) => event.type)).toEqual(['Identity Linked', 'Signed Up', 'Page Viewed']);
      const later = await record([{ type: 'Product Viewed', anonymousId }]);
      expect(later.data!.recordEvents.results[0]!.customerId).toBe(userId);
    });

    it('refuses two users for one anonymous id within one request', async () => {
      const anonymousId = unique('a');
      const response = await record([
        { type: 'Identified', anonymousId, userId: unique('one') },
        { type: 'Identified', anonymousId, userId: unique('two') },
      ]);
      expect(response.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', problems: [expect.objectContaining({ index: 1, rule: 'already_linked' })] });
    });
  });

  describe('personal data', () => {
    it('is sealed out of the stored event and readable only while the customer key exists', async () => {
      const userId = unique('u');
      await record([{ type: 'Identified', userId, traits: { email: 'grace@example.com', name: 'Grace Hopper', plan: 'pro' }, properties: {} }]);
      const { rows } = await database.query<{ id: string; data: Record<string, unknown>; raw: string }>(
        "SELECT id, data, data::text || metadata::text AS raw FROM event_store_events WHERE stream = $1",
        [`customer-${userId}`],
      );
      expect(rows[0]!.raw).not.toMatch(/grace|hopper/i);
      // The sections it was sealed from are named in the clear (names, not values), so that a reader may leave it closed.
      expect(rows[0]!.data).toMatchObject({ traits: { plan: 'pro' }, sealed: { v: 1 }, sealedIn: ['traits'] });

      const vault = new KeyVault(database, Buffer.alloc(0));
      const key = await trailmap.app.get(KeyVault).keyFor(userId);
      expect(unseal(key!, rows[0]!.data.sealed as SealedEnvelope, rows[0]!.id)).toEqual({ 'traits.email': 'grace@example.com', 'traits.name': 'Grace Hopper' });

      await database.query('UPDATE customer_keys SET wrapped_key = NULL, destroyed_at = now() WHERE customer_id = $1', [userId]);
      expect(await vault.keyFor(userId)).toBeUndefined();
    });
  });

  describe('through the Segment HTTP API', () => {
    it('records the events of the real analytics-node client in the right streams, a retried flush once', async () => {
      const userId = unique('u');
      const anonymousId = unique('a');
      let failFirst = true;
      // A proxy that loses the first answer after the server stored it: the client retries that flush.
      const proxy = http.createServer((request, response) => {
        const upstream = http.request(`${trailmap.url}${request.url}`, { method: request.method, headers: request.headers }, (answer) => {
          if (failFirst) {
            failFirst = false;
            answer.resume();
            response.writeHead(503).end();
            return;
          }
          response.writeHead(answer.statusCode!, answer.headers);
          answer.pipe(response);
        });
        request.pipe(upstream);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const analytics = new Analytics({
        writeKey: apiKeys.ingest,
        host: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        flushAt: 20,
        maxRetries: 3,
      });
      try {
        analytics.page({ anonymousId, name: 'Pricing', properties: { path: '/pricing', url: 'https://shop.example/pricing?utm=x' } });
        analytics.track({ anonymousId, event: 'Product Viewed', properties: { product_id: 'p-9' } });
        analytics.identify({ anonymousId, userId, traits: { email: 'lin@example.com' } });
        analytics.track({ userId, event: 'Order Completed', properties: { order_id: 'o-1', revenue: 42 } });
        analytics.screen({ userId, name: 'Home' });
        analytics.group({ userId, groupId: 'g-1', traits: { name: 'Acme' } });
        await analytics.closeAndFlush({ timeout: 20_000 });
      } finally {
        proxy.close();
      }
      expect(failFirst).toBe(false);
      const anonymousStream = await streamOf(`anon:${anonymousId}`);
      expect(anonymousStream.map((event) => event.type)).toEqual(['Page Viewed', 'Product Viewed']);
      expect(anonymousStream[0]!.data.properties).toMatchObject({ name: 'Pricing', path: '/pricing' });
      const userStream = await streamOf(userId);
      expect(userStream.map((event) => event.type)).toEqual(['Identity Linked', 'Identified', 'Order Completed', 'Screen Viewed', 'Group Identified']);
      expect(userStream.every((event) => event.metadata.source === 'segment' || event.metadata.source === 'trailmap')).toBe(true);
      expect(JSON.stringify(userStream)).not.toContain('lin@example.com');
    }, 60_000);

    it('answers {"success":true} for each call, recording alias as Identity Linked', async () => {
      const userId = unique('u');
      const response = await segment('alias', { previousId: unique('a'), userId, messageId: randomUUID() });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ success: true });
      expect((await streamOf(userId)).map((event) => event.type)).toEqual(['Identity Linked']);
    });

    it('corrects the client clock from sentAt, as the Segment spec does', async () => {
      const userId = unique('u');
      // The client clock runs one hour ahead: its timestamp and sentAt are both shifted.
      const clientNow = Date.now() + 3_600_000;
      await segment('track', { userId, event: 'Cart Viewed', timestamp: new Date(clientNow - 60_000).toISOString(), sentAt: new Date(clientNow).toISOString() });
      const [stored] = await streamOf(userId);
      const occurred = Date.parse(stored!.metadata.occurredAt);
      expect(Math.abs(occurred - (Date.now() - 60_000))).toBeLessThan(5_000);
    });

    it('rejects a malformed timestamp with the field and the rule', async () => {
      const response = await segment('track', { userId: 'u', event: 'Cart Viewed', timestamp: 'yesterday' });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ errors: [{ index: 0, field: 'occurredAt', rule: 'format' }] });
    });

    it('takes the write key from the body too, and refuses missing or unprivileged keys', async () => {
      expect((await segment('track', { userId: 'u', event: 'Cart Viewed', writeKey: apiKeys.ingest }, null)).status).toBe(200);
      const missing = await segment('track', { userId: 'u', event: 'Cart Viewed' }, null);
      expect(missing.status).toBe(401);
      expect(await missing.json()).toMatchObject({ success: false, code: 'UNAUTHENTICATED' });
      expect((await segment('track', { userId: 'u', event: 'Cart Viewed' }, apiKeys.support)).status).toBe(403);
    });

    it('rejects a batch with any invalid message, naming each, and stores none of it', async () => {
      const before = await eventCount();
      const response = await segment('batch', {
        batch: [
          { type: 'track', userId: unique('u'), event: 'Cart Viewed' },
          { type: 'bogus', userId: 'u' },
          { type: 'track', userId: unique('u'), event: 'Order Completed', properties: {} },
        ],
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({
        success: false,
        code: 'BAD_USER_INPUT',
        errors: [
          { index: 1, field: 'type', rule: 'enum', message: expect.any(String) },
          { index: 2, field: 'properties.order_id', rule: 'required', message: expect.any(String) },
        ],
      });
      expect(await eventCount()).toBe(before);
    });

    it("keeps Segment's limits: 2,500 messages a batch and 500 KB a request", async () => {
      const tooMany = await segment('batch', { batch: Array.from({ length: 2_501 }, () => ({ type: 'track', userId: 'u', event: 'Cart Viewed' })) });
      expect(tooMany.status).toBe(400);
      expect(await tooMany.json()).toMatchObject({ errors: [{ field: 'batch', rule: 'max_items' }] });
      const tooLarge = await segment('track', { userId: 'u', event: 'Cart Viewed', properties: { blob: 'x'.repeat(600_000) } });
      expect(tooLarge.status).toBe(413);
      expect(await tooLarge.json()).toMatchObject({ success: false, code: 'BAD_USER_INPUT', message: expect.stringContaining('larger') });
      const malformed = await segment('track', '{"userId": ');
      expect(malformed.status).toBe(400);
    });

    it('appends a batch for many customers in one transaction', async () => {
      const customers = Array.from({ length: 50 }, () => unique('u'));
      const response = await segment('batch', { batch: customers.map((userId) => ({ type: 'track', userId, event: 'Cart Viewed', messageId: randomUUID() })) });
      expect(response.status).toBe(200);
      const { rows } = await database.query<{ transactions: string }>(
        'SELECT count(DISTINCT transaction_id) AS transactions FROM event_store_events WHERE stream = ANY($1::text[])',
        [customers.map((userId) => `customer-${userId}`)],
      );
      expect(rows[0]!.transactions).toBe('1');
    });
  });
});
