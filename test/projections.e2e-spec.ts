import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Trailmap } from '../src/app.js';
import { pseudonymOf } from '../src/domain/analytics/pseudonymized-event.js';
import { SECRETS } from '../src/modules/core/core.module.js';
import { Database } from '../src/modules/database/database.js';
import { EVENT_STORE } from '../src/modules/event-store/event-store.module.js';
import type { EventStore } from '../src/modules/event-store/event-store.port.js';
import type { Secrets } from '../src/modules/privacy/secrets.js';
import { ProjectionsService } from '../src/projections/projections.service.js';
import { apiKeys, bootTrailmap, graphql } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { caughtUp, readModels } from './support/projections.js';

const RECORD = `mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id customerId duplicate } } }`;

describe('projections', () => {
  let testDatabase: TestDatabase;
  let trailmap: Trailmap;
  let database: Database;
  let projections: ProjectionsService;

  beforeAll(async () => {
    testDatabase = await createTestDatabase({ migrated: false });
    trailmap = await bootTrailmap(testDatabase.url, { TRAILMAP_SCHEDULER_INTERVAL: '1h' });
    database = new Database(testDatabase.url, 4);
    projections = trailmap.app.get(ProjectionsService);
  });

  afterAll(async () => {
    await trailmap?.stop();
    await database?.end();
    await testDatabase?.drop();
  });

  const unique = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const record = async (events: unknown[]) => {
    const response = await graphql(trailmap, RECORD, { events }, apiKeys.ingest);
    if (response.errors) throw new Error(JSON.stringify(response.errors));
  };
  const profileOf = async (customerId: string) =>
    (await database.query<{ profile: Record<string, any> }>('SELECT profile FROM customer_profiles WHERE customer_id = $1', [customerId])).rows[0]?.profile;
  const stageOf = async (customerId: string) =>
    (await database.query<{ stage: string }>('SELECT stage FROM journey_states WHERE customer_id = $1', [customerId])).rows[0]?.stage;
  const at = (minutes: number) => new Date(Date.UTC(2026, 10, 1, 9, 0) + minutes * 60_000).toISOString();

  it('builds the unified profile, folding the anonymous history into the user once', async () => {
    const anonymousId = unique('a');
    const userId = unique('u');
    await record([
      { type: 'Ad Clicked', anonymousId, occurredAt: at(0), channel: 'web', properties: { ad_id: 'ad-1' } },
      { type: 'Page Viewed', anonymousId, occurredAt: at(1), channel: 'web', properties: { path: '/' } },
    ]);
    await record([{ type: 'Identified', anonymousId, userId, occurredAt: at(2), traits: { email: 'Ada@Example.com', name: 'Ada Lovelace' } }]);
    await record([
      { type: 'Order Completed', userId, occurredAt: at(90), channel: 'mobile', properties: { order_id: 'o-1', revenue: 30 } },
      { type: 'Order Completed', userId, occurredAt: at(95), properties: { order_id: 'o-2', revenue: 50 } },
      { type: 'Page Viewed', anonymousId, occurredAt: at(96), properties: { path: '/thanks' } },
    ]);
    await caughtUp(projections);

    const profile = await profileOf(userId);
    expect(profile).toMatchObject({
      customerId: userId,
      email: 'Ada@Example.com',
      name: 'Ada Lovelace',
      firstSeenAt: at(0),
      lastSeenAt: at(96),
      channels: ['mobile', 'web'],
      metrics: { events: 7, sessions: 2, pageViews: 2, orders: 2, revenue: 80, averageOrderValue: 40 },
    });
    expect(profile!.identities).toEqual(
      expect.arrayContaining([
        { kind: 'USER_ID', value: userId },
        { kind: 'ANONYMOUS_ID', value: anonymousId },
        { kind: 'EMAIL', value: 'ada@example.com' },
      ]),
    );
    expect((await profileOf(`anon:${anonymousId}`))!.mergedInto).toBe(userId);
    expect(await stageOf(userId)).toBe('RETENTION');

    // What a read of the customer fetches is the served part; the fold's bookkeeping is stored beside it.
    const { rows } = await database.query<{ profile: Record<string, unknown>; bookkeeping: Record<string, any> }>(
      'SELECT profile, bookkeeping FROM customer_profiles WHERE customer_id = $1',
      [userId],
    );
    expect(Object.keys(rows[0]!.bookkeeping).sort()).toEqual(['appliedRevisions', 'sessions', 'supportTickets', 'traitsUpdatedAt']);
    expect(rows[0]!.profile).not.toHaveProperty('sessions');
    expect(rows[0]!.bookkeeping.appliedRevisions).toEqual([[`anon:${anonymousId}`, 1], [userId, 4]]);
    expect(Object.keys(rows[0]!.bookkeeping.traitsUpdatedAt).sort()).toEqual(['email', 'name']);
  });

  it('announces every stage transition on commit, with the event type that caused it', async () => {
    const userId = unique('u');
    const listener = new pg.Client({ connectionString: testDatabase.url });
    await listener.connect();
    const announced: Record<string, unknown>[] = [];
    listener.on('notification', (message) => announced.push(JSON.parse(message.payload!)));
    await listener.query('LISTEN trailmap_stage_changed');
    try {
      await record([
        { type: 'Products Searched', userId, occurredAt: at(0), properties: { query: 'boots' } },
        { type: 'Product Viewed', userId, occurredAt: at(1), properties: { product_id: 'p' } },
        { type: 'Product Added', userId, occurredAt: at(2), properties: { product_id: 'p' } },
      ]);
      await caughtUp(projections);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(announced.filter((transition) => transition.customerId === userId)).toEqual([
        expect.objectContaining({ from: null, to: 'DISCOVERY', eventType: 'Products Searched' }),
        expect.objectContaining({ from: 'DISCOVERY', to: 'ENGAGEMENT', eventType: 'Product Viewed' }),
        expect.objectContaining({ from: 'ENGAGEMENT', to: 'CONVERSION', eventType: 'Product Added' }),
      ]);
    } finally {
      await listener.end();
    }
  });

  it('keeps the identity index to the identities each customer is found by, batch after batch', async () => {
    const anonymousId = unique('a');
    const userId = unique('u');
    const findBy = async (kind: string, value: string) => {
      const { data } = await graphql<{ customerByIdentity: { id: string } | null }>(
        trailmap,
        'query($kind: IdentityKind!, $value: String!) { customerByIdentity(kind: $kind, value: $value) { id } }',
        { kind, value },
        apiKeys.support,
      );
      return data!.customerByIdentity?.id ?? null;
    };
    const indexRows = async () =>
      (await database.query<{ customer_id: string; rows: string }>('SELECT customer_id, count(*) AS rows FROM customer_identities WHERE customer_id = ANY($1) GROUP BY customer_id ORDER BY customer_id', [[`anon:${anonymousId}`, userId]])).rows;

    await record([{ type: 'Page Viewed', anonymousId, occurredAt: at(0), properties: { path: '/' } }]);
    await caughtUp(projections);
    expect(await findBy('ANONYMOUS_ID', anonymousId)).toBe(`anon:${anonymousId}`);

    await record([{ type: 'Identified', userId, occurredAt: at(1), traits: { email: 'first@example.com' } }]);
    await caughtUp(projections);
    await record([{ type: 'Identified', anonymousId, userId, occurredAt: at(2), traits: { email: 'Second@Example.com' } }]);
    await caughtUp(projections);
    await record([{ type: 'Page Viewed', userId, occurredAt: at(3), properties: { path: '/again' } }]);
    await caughtUp(projections);

    // The visitor merged: found as the user, and no longer indexed as itself; the user by each identity once.
    expect(await findBy('ANONYMOUS_ID', anonymousId)).toBe(userId);
    expect(await findBy('EMAIL', 'first@example.com')).toBe(userId);
    expect(await findBy('EMAIL', 'second@example.com')).toBe(userId);
    expect(await findBy('USER_ID', userId)).toBe(userId);
    expect(await indexRows()).toEqual([{ customer_id: userId, rows: '4' }]);
  });

  it('keeps late events from overwriting newer traits', async () => {
    const userId = unique('u');
    await record([{ type: 'Identified', userId, occurredAt: at(10), traits: { plan: 'pro', name: 'New Name' } }]);
    await record([{ type: 'Identified', userId, occurredAt: at(5), traits: { plan: 'free', name: 'Old Name', title: 'CTO' } }]);
    await caughtUp(projections);
    expect(await profileOf(userId)).toMatchObject({ name: 'New Name', traits: { plan: 'pro', title: 'CTO' }, firstSeenAt: at(5), lastSeenAt: at(10) });
  });

  it('writes only pseudonyms and declared, non-personal properties into analytics', async () => {
    const userId = unique('u');
    await record([
      { type: 'Identified', userId, occurredAt: at(0), traits: { email: 'grace@example.com' } },
      { type: 'Product Reviewed', userId, occurredAt: at(1), properties: { product_id: 'p-1', rating: 5, review_body: 'Grace loved it' } },
      { type: 'Page Viewed', userId, occurredAt: at(2), properties: { path: '/p', url: 'https://shop.example/p?email=grace@example.com' } },
    ]);
    await caughtUp(projections);
    const { rows } = await database.query<{ dump: string }>(
      `SELECT string_agg(t::text, ' ') AS dump FROM (
         SELECT row_to_json(e)::text AS t FROM analytics_events e UNION ALL SELECT row_to_json(s)::text FROM analytics_stage_transitions s
         UNION ALL SELECT row_to_json(j)::text FROM analytics_journeys j UNION ALL SELECT row_to_json(c)::text FROM analytics_daily_customers c) AS tables`,
    );
    expect(rows[0]!.dump).not.toMatch(/grace|loved/i);
    expect(rows[0]!.dump).not.toContain(userId);
    expect(rows[0]!.dump).toContain('https://shop.example/p"');
  });

  it("gives analysts every journey's stage and transitions under its pseudonym, a merged visitor counted once, as the user", async () => {
    const anonymousId = unique('a');
    const userId = unique('u');
    await record([
      { type: 'Page Viewed', anonymousId, occurredAt: at(0), properties: { path: '/' } },
      { type: 'Product Added', anonymousId, occurredAt: at(1), properties: { product_id: 'p' } },
    ]);
    await record([{ type: 'Signed Up', anonymousId, userId, occurredAt: at(2), traits: { email: `${userId}@example.com` } }]);
    await record([
      { type: 'Order Completed', userId, occurredAt: at(3), properties: { order_id: unique('o'), revenue: 10 } },
      { type: 'Order Completed', userId, occurredAt: at(4), properties: { order_id: unique('o'), revenue: 20 } },
    ]);
    await caughtUp(projections);

    const { pseudonymKey } = trailmap.app.get<Secrets>(SECRETS);
    const visitor = `anon:${anonymousId}`;
    const { rows: transitions } = await database.query<{ customer_id: string; event_id: string; from_stage: string | null; to_stage: string; at: Date; seconds_in_previous: number | null }>(
      'SELECT customer_id, event_id, from_stage, to_stage, at, seconds_in_previous FROM journey_transitions WHERE customer_id = ANY($1) ORDER BY at, event_id',
      [[userId, visitor]],
    );
    expect(transitions.map((transition) => [transition.customer_id, transition.to_stage])).toEqual([
      [visitor, 'ENGAGEMENT'],
      [visitor, 'CONVERSION'],
      [userId, 'RETENTION'],
    ]);
    const { rows: pseudonymized } = await database.query(
      'SELECT pseudonym, event_id, from_stage, to_stage, at, seconds_in_previous FROM analytics_stage_transitions WHERE pseudonym = ANY($1) ORDER BY at, event_id',
      [[pseudonymOf(pseudonymKey, userId), pseudonymOf(pseudonymKey, visitor)]],
    );
    expect(pseudonymized).toEqual(transitions.map(({ customer_id, ...transition }) => ({ pseudonym: pseudonymOf(pseudonymKey, customer_id), ...transition })));

    const { rows: journeys } = await database.query('SELECT pseudonym, stage, merged_into FROM analytics_journeys WHERE pseudonym = ANY($1) ORDER BY stage', [
      [pseudonymOf(pseudonymKey, userId), pseudonymOf(pseudonymKey, visitor)],
    ]);
    expect(journeys).toEqual([
      { pseudonym: pseudonymOf(pseudonymKey, visitor), stage: 'CONVERSION', merged_into: pseudonymOf(pseudonymKey, userId) },
      { pseudonym: pseudonymOf(pseudonymKey, userId), stage: 'RETENTION', merged_into: null },
    ]);
  });

  it('rebuilds every projection by replay to the same content, while the live tables keep answering', async () => {
    const customers = Array.from({ length: 20 }, () => unique('u'));
    await record(
      customers.flatMap((userId, index) => [
        { type: 'Page Viewed', anonymousId: `${userId}-anon`, occurredAt: at(index), properties: { path: '/' } },
        { type: 'Signed Up', anonymousId: `${userId}-anon`, userId, occurredAt: at(index + 1), traits: { email: `${userId}@example.com` } },
        { type: 'Product Added', userId, occurredAt: at(index + 2), properties: { product_id: 'p' } },
        ...(index % 2 ? [{ type: 'Order Completed', userId, occurredAt: at(index + 3), properties: { order_id: `o-${index}`, revenue: index } }] : []),
      ]),
    );
    await caughtUp(projections);
    const live = await readModels(database);

    for (const { name } of projections.projections) await projections.requestRebuild(name);
    expect((await projections.statuses()).every((status) => status.rebuild !== null || status.state === 'REBUILDING' || status.state === 'LIVE')).toBe(true);
    const statuses = await caughtUp(projections, 60_000);
    expect(await readModels(database)).toEqual(live);
    expect(statuses.map(({ name, state, lag }) => ({ name, state, lag }))).toEqual(
      projections.projections.map(({ name }) => ({ name, state: 'LIVE', lag: 0 })),
    );
  }, 90_000);

  it('reports each projection through the projections query', async () => {
    const response = await graphql<{ projections: { name: string; state: string; lag: number; processedEvents: number; active: boolean }[] }>(
      trailmap,
      '{ projections { name state lag processedEvents active position } }',
      undefined,
      apiKeys.operator,
    );
    expect(response.errors).toBeUndefined();
    expect(response.data!.projections.map((status) => status.name)).toEqual(['customer-profile', 'journey-stage', 'analytics', 'timeline']);
    expect(response.data!.projections.every((status) => status.active && status.processedEvents > 0)).toBe(true);
    const unknown = await graphql(trailmap, 'mutation { rebuildProjection(name: "nope") { name } }', undefined, apiKeys.operator);
    expect(unknown.errors![0]!.extensions!.code).toBe('NOT_FOUND');
  });

  it('counts the log for a lag only when the lag is asked for', async () => {
    await caughtUp(projections);
    // The real count, counted: it is the costly part of a status.
    const store = trailmap.app.get<EventStore>(EVENT_STORE);
    const countAfter = store.countAfter.bind(store);
    let counts = 0;
    store.countAfter = (...args) => {
      counts += 1;
      return countAfter(...args);
    };
    try {
      const states = await graphql<{ projections: { name: string; state: string }[] }>(trailmap, '{ projections { name state } }', undefined, apiKeys.operator);
      expect(states.data!.projections).toHaveLength(4);
      expect(counts).toBe(0);

      const lags = await graphql<{ projections: { lag: number; rebuild: { lag: number } | null }[] }>(
        trailmap,
        '{ projections { lag rebuild { lag } } }',
        undefined,
        apiKeys.operator,
      );
      expect(lags.data!.projections).toEqual([0, 1, 2, 3].map(() => ({ lag: 0, rebuild: null })));
      expect(counts).toBe(4);
    } finally {
      delete (store as Partial<EventStore>).countAfter; // the prototype's again
    }
  });
});
