import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { buildSchema, findBreakingChanges } from 'graphql';
import type { Trailmap } from '../src/app.js';
import { CustomersService } from '../src/modules/customers/customers.service.js';
import { Database } from '../src/modules/database/database.js';
import { ProjectionsService } from '../src/projections/projections.service.js';
import { apiKeys, bootTrailmap, graphql } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { caughtUp } from './support/projections.js';

const RECORD = `mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id customerId duplicate } } }`;
const CUSTOMER = `query Customer($id: ID!) { customer(id: $id) {
  id email name phone traits stage stageEnteredAt firstSeenAt lastSeenAt channels version forgotten
  identities { kind value }
  metrics { events sessions pageViews orders revenue averageOrderValue returns openSupportTickets }
  stageHistory { customerId from to at eventType }
} }`;

describe('the GraphQL API', () => {
  let testDatabase: TestDatabase;
  let trailmap: Trailmap;
  let projections: ProjectionsService;
  const run = randomUUID().slice(0, 6);
  const anonymousId = `anon-${run}`;
  const userId = `ada-${run}`;
  const at = (minutes: number) => new Date(Date.UTC(2026, 10, 2, 9, 0) + minutes * 60_000).toISOString();

  const record = async (events: unknown[]) => {
    const response = await graphql(trailmap, RECORD, { events }, apiKeys.ingest);
    if (response.errors) throw new Error(JSON.stringify(response.errors));
  };

  /** The statements sent through the pool while `work` runs whose text matches `pattern`. */
  const readStatements = async <T>(pattern: RegExp, work: () => Promise<T>): Promise<{ result: T; statements: string[] }> => {
    const pool = trailmap.app.get(Database).pool as { query: unknown };
    const original = pool.query as (...parameters: unknown[]) => unknown;
    const statements: string[] = [];
    pool.query = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && pattern.test(args[0])) statements.push(args[0]);
      return original.apply(pool, args);
    };
    try {
      return { result: await work(), statements };
    } finally {
      pool.query = original;
    }
  };

  beforeAll(async () => {
    testDatabase = await createTestDatabase({ migrated: false });
    trailmap = await bootTrailmap(testDatabase.url);
    projections = trailmap.app.get(ProjectionsService);
    await record([
      { type: 'Ad Clicked', anonymousId, occurredAt: at(0), channel: 'web', properties: { ad_id: 'a-1' } },
      { type: 'Product Viewed', anonymousId, occurredAt: at(2), channel: 'web', properties: { product_id: 'p-1' } },
    ]);
    await record([
      { type: 'Signed Up', anonymousId, userId, occurredAt: at(3), traits: { email: 'Ada.Lovelace@Example.com', name: 'Ada Lovelace', phone: '+44 20 7946 0958' } },
      { type: 'Order Completed', userId, occurredAt: at(10), properties: { order_id: 'o-1', revenue: 120 } },
      // Arrives late: it happened before the order.
      { type: 'Product Added', userId, occurredAt: at(5), properties: { product_id: 'p-1' } },
    ]);
    await caughtUp(projections);
  });

  afterAll(async () => {
    await trailmap?.stop();
    await testDatabase?.drop();
  });

  it('serves a compatible superset of the public contract', () => {
    const contract = buildSchema(readFileSync(new URL('../contract/schema.graphql', import.meta.url), 'utf8'));
    const served = trailmap.app.get(GraphQLSchemaHost).schema;
    expect(findBreakingChanges(contract, served)).toEqual([]);
  });

  describe('customer', () => {
    it('returns the unified profile with metrics, identities and stage history to support', async () => {
      const { data, errors } = await graphql<{ customer: Record<string, any> }>(trailmap, CUSTOMER, { id: userId }, apiKeys.support);
      expect(errors).toBeUndefined();
      expect(data!.customer).toMatchObject({
        id: userId,
        email: 'Ada.Lovelace@Example.com',
        name: 'Ada Lovelace',
        stage: 'CONVERSION',
        firstSeenAt: at(0),
        lastSeenAt: at(10),
        channels: ['web'],
        forgotten: false,
        metrics: { events: 6, orders: 1, revenue: 120, averageOrderValue: 120, pageViews: 0, returns: 0, openSupportTickets: 0 },
      });
      expect(data!.customer.identities).toEqual(
        expect.arrayContaining([
          { kind: 'USER_ID', value: userId },
          { kind: 'ANONYMOUS_ID', value: anonymousId },
          { kind: 'EMAIL', value: 'ada.lovelace@example.com' },
          { kind: 'PHONE', value: '+442079460958' },
        ]),
      );
      expect(data!.customer.stageHistory.map((transition: { to: string }) => transition.to)).toEqual(['DISCOVERY', 'ENGAGEMENT', 'CONVERSION']);
    });

    it('is the user when asked for a linked anonymous id, and null for an unknown id', async () => {
      const linked = await graphql<{ customer: { id: string } }>(trailmap, '{ customer(id: "anon:' + anonymousId + '") { id } }', undefined, apiKeys.support);
      expect(linked.data!.customer.id).toBe(userId);
      const unknown = await graphql(trailmap, '{ customer(id: "nobody") { id } }', undefined, apiKeys.support);
      expect(unknown).toEqual({ data: { customer: null } });
    });

    it('answers a document the same when it runs compiled (from its second time) as the first time, redactions and errors included', async () => {
      // A document of its own (a comment changes its text): its first answer comes from graphql-js, the later ones compiled.
      const document = `${CUSTOMER} # ${randomUUID()}`;
      for (const key of [apiKeys.support, apiKeys.operator]) {
        const answers = [];
        for (let time = 0; time < 3; time++) answers.push(await graphql<{ customer: Record<string, unknown> }>(trailmap, document, { id: userId }, key));
        expect(answers[0]!.data!.customer.id).toBe(userId);
        expect(answers[1]).toEqual(answers[0]);
        expect(answers[2]).toEqual(answers[0]);
        if (key === apiKeys.operator) {
          // Personal data refused, by the path graphql-js and the compiled execution give the resolver alike.
          expect(answers[0]!.errors!.map((error) => [error.extensions!.code, error.path])).toEqual(expect.arrayContaining([['FORBIDDEN', ['customer', 'email']]]));
        } else {
          expect(answers[0]!.errors).toBeUndefined();
        }
      }
      const refused = [];
      for (let time = 0; time < 3; time++) refused.push(await graphql(trailmap, document, { id: null }, apiKeys.support));
      expect(refused[2]).toEqual(refused[0]);
      expect(refused[0]!.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    });

    it('reads customers asked for together in one statement, each answer its own', async () => {
      const customers = trailmap.app.get(CustomersService);
      const asked = [userId, 'nobody', `anon:${anonymousId}`, userId];
      const { result: answers, statements } = await readStatements(/customer_profiles/, () => Promise.all(asked.map((id) => customers.customer(id))));
      expect(answers.map((customer) => customer && customer.id)).toEqual([userId, null, userId, userId]);
      expect(answers[0]!.stageHistory!.map((transition) => transition.to)).toEqual(['DISCOVERY', 'ENGAGEMENT', 'CONVERSION']);
      expect(answers[0]!.metrics.orders).toBe(1);
      // Each request gets a view of its own, not one shared with another request.
      expect(answers[3]).not.toBe(answers[0]);
      expect(statements).toHaveLength(1);
      // Over HTTP, requests sent at once are answered each with its own customer, however they were batched.
      const responses = await Promise.all(
        [userId, 'nobody', `anon:${anonymousId}`].map((id) => graphql<{ customer: { id: string } | null }>(trailmap, '{ customer(id: "' + id + '") { id stageHistory { to } } }', undefined, apiKeys.support)),
      );
      expect(responses.map((response) => response.data?.customer?.id ?? null)).toEqual([userId, null, userId]);
    });

    it('finds a customer by email and phone after normalization, and by ids', async () => {
      for (const [kind, value] of [
        ['EMAIL', '  ada.LOVELACE@example.com '],
        ['PHONE', '+44 (0)20 7946 0958'.replace('(0)', '')],
        ['USER_ID', userId],
        ['ANONYMOUS_ID', anonymousId],
      ]) {
        const { data } = await graphql<{ customerByIdentity: { id: string } | null }>(
          trailmap,
          'query($kind: IdentityKind!, $value: String!) { customerByIdentity(kind: $kind, value: $value) { id } }',
          { kind, value },
          apiKeys.support,
        );
        expect(data!.customerByIdentity).toEqual({ id: userId });
      }
    });

    it('pages the timeline oldest first by occurredAt, anonymous history included, with stable cursors', async () => {
      const query = `query($id: ID!, $after: String) { customer(id: $id) { timeline(first: 2, after: $after) {
        edges { cursor node { id customerId type category occurredAt streamPosition channel properties traits } } pageInfo { hasNextPage endCursor } } } }`;
      const types: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const response: any = await graphql(trailmap, query, { id: userId, after }, apiKeys.support);
        expect(response.errors).toBeUndefined();
        const { edges, pageInfo } = response.data.customer.timeline;
        types.push(...edges.map((edge: { node: { type: string } }) => edge.node.type));
        pages += 1;
        if (!pageInfo.hasNextPage) break;
        after = pageInfo.endCursor;
      }
      expect(types).toEqual(['Ad Clicked', 'Product Viewed', 'Identity Linked', 'Signed Up', 'Product Added', 'Order Completed']);
      expect(pages).toBe(3);
      const first: any = await graphql(trailmap, query, { id: userId, after: null }, apiKeys.support);
      expect(first.data.customer.timeline.edges[0].node).toMatchObject({ customerId: `anon:${anonymousId}`, category: 'DISCOVERY', streamPosition: 0, channel: 'web' });
      const signedUp: any = await graphql(trailmap, query, { id: userId, after: first.data.customer.timeline.pageInfo.endCursor }, apiKeys.support);
      expect(signedUp.data.customer.timeline.edges[1].node.traits).toMatchObject({ email: 'Ada.Lovelace@Example.com' });
    });

    it('refuses a forged cursor with BAD_USER_INPUT', async () => {
      const response = await graphql(trailmap, `{ customer(id: "${userId}") { timeline(first: 2, after: "bm90LWEtY3Vyc29y") { edges { cursor } } } }`, undefined, apiKeys.support);
      expect(response.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    });
  });

  describe('customers', () => {
    it('pages by stage with cursors that stay stable while new customers arrive', async () => {
      const ids = Array.from({ length: 5 }, (_, index) => `page-${run}-${index}`);
      await record(ids.map((id) => ({ type: 'Products Searched', userId: id, occurredAt: at(20), properties: { query: 'boots' } })));
      await caughtUp(projections);
      const query = `query($after: String) { customers(stage: DISCOVERY, first: 2, after: $after) { totalCount edges { cursor node { id stage } } pageInfo { hasNextPage endCursor } } }`;
      const first: any = await graphql(trailmap, query, { after: null }, apiKeys.support);
      expect(first.data.customers.totalCount).toBe(5);
      expect(first.data.customers.edges.map((edge: any) => edge.node.id)).toEqual(ids.slice(0, 2));

      // A customer arriving before the cursor does not shift the pages that follow.
      await record([{ type: 'Products Searched', userId: `page-${run}-0a`, occurredAt: at(21), properties: { query: 'tents' } }]);
      await caughtUp(projections);
      const seen = [...first.data.customers.edges.map((edge: any) => edge.node.id)];
      let after = first.data.customers.pageInfo.endCursor;
      for (;;) {
        const page: any = await graphql(trailmap, query, { after }, apiKeys.support);
        seen.push(...page.data.customers.edges.map((edge: any) => edge.node.id));
        if (!page.data.customers.pageInfo.hasNextPage) break;
        after = page.data.customers.pageInfo.endCursor;
      }
      expect(seen).toEqual(ids);
    });

    it('costs a fixed number of SQL queries for a page of 100 customers with metrics and stage history', async () => {
      const ids = Array.from({ length: 100 }, (_, index) => `n1-${run}-${String(index).padStart(3, '0')}`);
      await record(ids.flatMap((id) => [
        { type: 'Page Viewed', userId: id, occurredAt: at(30), properties: { path: '/' } },
        { type: 'Product Added', userId: id, occurredAt: at(31), properties: { product_id: 'p' } },
      ]));
      await caughtUp(projections);
      const counted = async (first: number) => {
        // Background work (projection runners, the store's subscription) shares the pool: count the read side's queries only.
        const { result: response, statements } = await readStatements(/customer_profiles|journey_transitions|journey_states/, () =>
          graphql<any>(
            trailmap,
            `query($first: Int) { customers(stage: CONVERSION, first: $first) { edges { node { id stage metrics { events orders } stageHistory { to at } } } } }`,
            { first },
            apiKeys.support,
          ),
        );
        expect(response.errors).toBeUndefined();
        expect(response.data.customers.edges.length).toBeGreaterThanOrEqual(Math.min(first, 100));
        return statements.length;
      };
      const forTen = await counted(10);
      const forHundred = await counted(100);
      expect(forHundred).toBe(forTen);
      expect(forHundred).toBeLessThanOrEqual(3);
    });

    it('counts the customers only when totalCount is asked for', async () => {
      const counts = async (selection: string) => {
        const { result, statements } = await readStatements(/count\(\*\)/, () => graphql<any>(trailmap, `{ customers(first: 1) { ${selection} } }`, undefined, apiKeys.support));
        expect(result.errors).toBeUndefined();
        return { data: result.data.customers, statements: statements.length };
      };
      expect((await counts('edges { node { id } }')).statements).toBe(0);
      const total = await counts('totalCount edges { node { id } }');
      expect(total.statements).toBe(1);
      expect(total.data.totalCount).toBeGreaterThanOrEqual(5);
    });
  });

  describe('analytics and catalog', () => {
    it('counts customers per stage, from the pseudonymized tables', async () => {
      const { data } = await graphql<{ stageCounts: { stage: string; customers: number }[] }>(trailmap, '{ stageCounts { stage customers } }', undefined, apiKeys.analyst);
      expect(data!.stageCounts.map((count) => count.stage)).toEqual(['DISCOVERY', 'ENGAGEMENT', 'CONVERSION', 'POST_PURCHASE', 'RETENTION', 'DORMANT']);
      expect(data!.stageCounts.find((count) => count.stage === 'CONVERSION')!.customers).toBeGreaterThanOrEqual(1);
    });

    it('draws the journey funnel over a window, with conversion, drop-off and time in stage', async () => {
      const { data, errors } = await graphql<{ journeyFunnel: { steps: Record<string, any>[] } }>(
        trailmap,
        `{ journeyFunnel(from: "${at(0)}", to: "${at(11)}") { from to steps { stage entered progressed conversionRate dropOff averageSecondsInStage } } }`,
        undefined,
        apiKeys.analyst,
      );
      expect(errors).toBeUndefined();
      const [discovery, engagement, conversion, postPurchase, retention] = data!.journeyFunnel.steps;
      expect(discovery).toEqual({ stage: 'DISCOVERY', entered: 1, progressed: 1, conversionRate: 1, dropOff: 0, averageSecondsInStage: 120 });
      expect(engagement).toMatchObject({ stage: 'ENGAGEMENT', entered: 1, progressed: 1 });
      expect(conversion).toMatchObject({ stage: 'CONVERSION', entered: 1, progressed: 0, conversionRate: 0, dropOff: 1 });
      expect(postPurchase).toMatchObject({ stage: 'POST_PURCHASE', entered: 0, progressed: 0, conversionRate: null, dropOff: 0 });
      expect(retention).toMatchObject({ stage: 'RETENTION', entered: 0, conversionRate: null });
    });

    it('reports daily activity per category and type with distinct customers', async () => {
      const { data } = await graphql<{ dailyActivity: Record<string, unknown>[] }>(
        trailmap,
        `{ dailyActivity(from: "${at(0)}", to: "${at(0)}") { day category eventType events customers } }`,
        undefined,
        apiKeys.analyst,
      );
      expect(data!.dailyActivity).toEqual(expect.arrayContaining([{ day: '2026-11-02', category: 'CONVERSION', eventType: 'Order Completed', events: 1, customers: 1 }]));
    });

    it('lists the event catalog with schemas and personal data paths', async () => {
      const { data } = await graphql<{ eventTypes: { name: string; category: string; schema: unknown; piiFields: string[]; version: number }[] }>(
        trailmap,
        '{ eventTypes { name category schema piiFields version } }',
        undefined,
        apiKeys.analyst,
      );
      const identified = data!.eventTypes.find((type) => type.name === 'Identified')!;
      expect(identified).toMatchObject({ category: 'IDENTITY', version: 1, piiFields: expect.arrayContaining(['traits.email', 'context.ip']) });
      expect(data!.eventTypes.length).toBeGreaterThanOrEqual(35);
    });
  });

  describe('errors', () => {
    it('answers with stable codes: UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, NOT_FOUND', async () => {
      expect((await graphql(trailmap, '{ stageCounts { stage } }', undefined, '')).errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
      expect((await graphql(trailmap, '{ stageCounts { stage } }', undefined, apiKeys.support)).errors![0]!.extensions!.code).toBe('FORBIDDEN');
      expect((await graphql(trailmap, '{ customers(first: 501) { totalCount } }', undefined, apiKeys.support)).errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
      expect((await graphql(trailmap, 'mutation { rebuildProjection(name: "nope") { name } }', undefined, apiKeys.operator)).errors![0]!.extensions!.code).toBe('NOT_FOUND');
    });
  });
});
