import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { Trailmap } from '../src/app.js';
import { Database } from '../src/modules/database/database.js';
import { EVENT_STORE } from '../src/modules/event-store/event-store.module.js';
import type { EventStore, NewEvent } from '../src/modules/event-store/event-store.port.js';
import { CustomerUpdatesFeed } from '../src/modules/live/customer-updates.feed.js';
import { RecordedEventsFeed } from '../src/modules/live/recorded-events.feed.js';
import { StageChangesFeed } from '../src/modules/live/stage-changes.feed.js';
import { SUBSCRIBER_BUFFER_LIMIT } from '../src/modules/live/subscriber-buffer.js';
import { STAGE_CHANGED_CHANNEL } from '../src/projections/journey/journey.projection.js';
import { CUSTOMER_UPDATED_CHANNEL } from '../src/projections/profile/profile.projection.js';
import { apiKeys, bootTrailmap, graphql } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const RECORD = `mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id customerId duplicate } } }`;
const STAGE_CHANGED = `subscription($customerId: ID, $to: JourneyStage) { journeyStageChanged(customerId: $customerId, to: $to) { customerId from to at eventType } }`;
const CUSTOMER_UPDATED = `subscription($id: ID!) { customerUpdated(id: $id) { id email name stage metrics { events orders } stageHistory { to } } }`;
const EVENT_RECORDED = `subscription($customerId: ID) { eventRecorded(customerId: $customerId) { id customerId type category streamPosition properties traits } }`;

interface Result {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** One subscription through a real graphql-ws client: what it received, when, and how it ended. */
class Subscriber {
  readonly results: Result[] = [];
  /** performance.now() at each result's arrival. */
  readonly arrivals: number[] = [];
  failure?: any;
  completed = false;
  private readonly client: Client;

  constructor(trailmap: Trailmap, query: string, variables: Record<string, unknown>, key: string | null) {
    this.client = createClient({
      url: trailmap.graphqlUrl.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: key === null ? undefined : { authorization: `Bearer ${key}` },
    });
    this.client.subscribe<Record<string, any>>(
      { query, variables },
      {
        next: (result) => {
          this.arrivals.push(performance.now());
          this.results.push(result as Result);
        },
        error: (error) => (this.failure = error),
        complete: () => (this.completed = true),
      },
    );
  }

  /** The field's values, for a subscription that has not failed. */
  values(field: string): Record<string, any>[] {
    return this.results.map((result) => {
      if (result.errors) throw new Error(JSON.stringify(result.errors));
      return result.data![field];
    });
  }

  received(count: number, timeoutMs = 20_000): Promise<void> {
    return eventually(
      () => {
        if (this.failure !== undefined || this.completed) throw new Error(`the subscription ended before ${count} results: ${JSON.stringify(this.failure ?? 'completed')}`);
        return this.results.length >= count;
      },
      `${count} results`,
      timeoutMs,
    );
  }

  ended(): Promise<void> {
    return eventually(() => this.completed || this.failure !== undefined, 'the subscription to end');
  }

  query(query: string): Promise<unknown> {
    return new Promise((resolve, reject) => this.client.subscribe({ query }, { next: resolve, error: reject, complete: () => undefined }));
  }

  dispose(): Promise<void> {
    return Promise.resolve(this.client.dispose());
  }
}

async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const unique = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
const at = (minutes: number) => new Date(Date.UTC(2026, 10, 2, 9, 0) + minutes * 60_000).toISOString();

describe('subscriptions', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let trailmap: Trailmap;
  /** What the tests measured, logged once at the end (nothing is asserted on timings). */
  const measurements: string[] = [];
  const subscribers: Subscriber[] = [];

  /** A subscription with an API key (support's unless said), or with none when `key` is null. */
  const subscribe = (query: string, variables: Record<string, unknown> = {}, key: string | null = apiKeys.support, on = trailmap) => {
    const subscriber = new Subscriber(on, query, variables, key);
    subscribers.push(subscriber);
    return subscriber;
  };
  /** The server has registered this many subscribers of a feed: what is recorded from now on reaches them. */
  const registered = (feed: { subscriberCount: number }, count: number) => eventually(() => feed.subscriberCount === count, `${count} subscribers registered`);
  /** Records events through the API; returns when the mutation's response arrived. */
  const record = async (events: unknown[], on = trailmap): Promise<number> => {
    const response = await graphql(on, RECORD, { events }, apiKeys.ingest);
    if (response.errors) throw new Error(JSON.stringify(response.errors));
    return performance.now();
  };
  const latency = (what: string, recorded: number, subscriber: Subscriber, index: number) => {
    measurements.push(`${what}: ${(subscriber.arrivals[index]! - recorded).toFixed(1)} ms from recordEvents returning to the message`);
  };
  /** LISTEN connections on a channel, across every instance on the test database (each LISTENs on all its channels at once). */
  const listeners = async (channel: string) =>
    (
      await database.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'trailmap-listen' AND $1 = ANY(string_to_array(query, '; '))`,
        [`LISTEN "${channel}"`],
      )
    ).rows[0]!.count;

  beforeAll(async () => {
    testDatabase = await createTestDatabase({ migrated: false });
    trailmap = await bootTrailmap(testDatabase.url, { TRAILMAP_SCHEDULER_INTERVAL: '1h' });
    database = new Database(testDatabase.url, 2);
    await eventually(async () => (await listeners(STAGE_CHANGED_CHANNEL)) === 1 && (await listeners(CUSTOMER_UPDATED_CHANNEL)) === 1, 'the LISTEN connections');
  });

  afterEach(async () => {
    await Promise.all(subscribers.splice(0).map((subscriber) => subscriber.dispose()));
  });

  afterAll(async () => {
    await trailmap?.stop();
    await database?.end();
    await testDatabase?.drop();
    if (measurements.length > 0) console.log(`subscriptions measured:\n  ${measurements.join('\n  ')}`);
  });

  describe('journeyStageChanged', () => {
    it('delivers every transition to the unfiltered, customer-filtered and stage-filtered subscribers, and nothing to the others', async () => {
      const userId = unique('ada');
      const everyone = subscribe(STAGE_CHANGED);
      const ada = subscribe(STAGE_CHANGED, { customerId: userId });
      const conversions = subscribe(STAGE_CHANGED, { to: 'CONVERSION' });
      const someoneElse = subscribe(STAGE_CHANGED, { customerId: unique('nobody') });
      const adaRetained = subscribe(STAGE_CHANGED, { customerId: userId, to: 'RETENTION' });
      await registered(trailmap.app.get(StageChangesFeed), 5);

      const recorded = await record([
        { type: 'Ad Clicked', userId, occurredAt: at(0), properties: { ad_id: 'a-1' } },
        { type: 'Product Viewed', userId, occurredAt: at(1), properties: { product_id: 'p-1' } },
        { type: 'Order Completed', userId, occurredAt: at(2), properties: { order_id: 'o-1', revenue: 40 } },
      ]);
      await ada.received(3);
      latency('journeyStageChanged (first of 3 transitions)', recorded, ada, 0);

      const transitions = [
        { customerId: userId, from: null, to: 'DISCOVERY', at: at(0), eventType: 'Ad Clicked' },
        { customerId: userId, from: 'DISCOVERY', to: 'ENGAGEMENT', at: at(1), eventType: 'Product Viewed' },
        { customerId: userId, from: 'ENGAGEMENT', to: 'CONVERSION', at: at(2), eventType: 'Order Completed' },
      ];
      expect(ada.values('journeyStageChanged')).toEqual(transitions);
      await everyone.received(3);
      expect(everyone.values('journeyStageChanged').filter((transition) => transition.customerId === userId)).toEqual(transitions);
      await conversions.received(1);
      expect(conversions.values('journeyStageChanged')).toEqual([transitions[2]]);
      await pause(200);
      expect(someoneElse.results).toEqual([]);
      expect(adaRetained.results).toEqual([]);
    });

    it("follows a linked visitor: the visitor's subscribers get its user's transitions, the user's subscribers the visitor's", async () => {
      const anonymousId = unique('visitor');
      const userId = unique('grace');
      const visitor = subscribe(STAGE_CHANGED, { customerId: `anon:${anonymousId}` });
      await registered(trailmap.app.get(StageChangesFeed), 1);
      await record([{ type: 'Ad Clicked', anonymousId, occurredAt: at(0) }]);
      await visitor.received(1);
      expect(visitor.values('journeyStageChanged')).toEqual([expect.objectContaining({ customerId: `anon:${anonymousId}`, to: 'DISCOVERY' })]);

      await record([
        { type: 'Signed Up', anonymousId, userId, occurredAt: at(1) },
        { type: 'Order Completed', userId, occurredAt: at(2), properties: { order_id: 'o-2', revenue: 10 } },
      ]);
      await visitor.received(3);
      expect(visitor.values('journeyStageChanged').slice(1)).toEqual([
        { customerId: userId, from: 'DISCOVERY', to: 'ENGAGEMENT', at: at(1), eventType: 'Signed Up' },
        { customerId: userId, from: 'ENGAGEMENT', to: 'CONVERSION', at: at(2), eventType: 'Order Completed' },
      ]);

      // Visitor and sign-up in one request: the visitor's transitions carry its anon: id, and reach the user's subscriber.
      const newcomer = unique('newcomer');
      const newcomerVisitor = unique('visitor');
      const user = subscribe(STAGE_CHANGED, { customerId: newcomer });
      await registered(trailmap.app.get(StageChangesFeed), 2);
      await record([
        { type: 'Ad Clicked', anonymousId: newcomerVisitor, occurredAt: at(0) },
        { type: 'Product Viewed', anonymousId: newcomerVisitor, occurredAt: at(1) },
        { type: 'Signed Up', anonymousId: newcomerVisitor, userId: newcomer, occurredAt: at(2) },
        { type: 'Order Completed', userId: newcomer, occurredAt: at(3), properties: { order_id: 'o-3', revenue: 10 } },
      ]);
      await user.received(3);
      expect(user.values('journeyStageChanged').map(({ customerId, to }) => [customerId, to])).toEqual([
        [`anon:${newcomerVisitor}`, 'DISCOVERY'],
        [`anon:${newcomerVisitor}`, 'ENGAGEMENT'],
        [newcomer, 'CONVERSION'],
      ]);
    });

    it('reads a transition announced by reference (a payload over the NOTIFY limit) back from journey_transitions', async () => {
      const userId = unique('ref');
      await record([{ type: 'Ad Clicked', userId, occurredAt: at(0) }]);
      await eventually(async () => (await database.query('SELECT 1 FROM journey_transitions WHERE customer_id = $1', [userId])).rowCount === 1, 'the transition row');
      const subscriber = subscribe(STAGE_CHANGED, { customerId: userId });
      await registered(trailmap.app.get(StageChangesFeed), 1);
      // What the projection sends instead of a transition of 8,000 bytes or more.
      await database.query(
        `SELECT pg_notify($1, json_build_object('customerId', customer_id, 'eventId', event_id)::text) FROM journey_transitions WHERE customer_id = $2`,
        [STAGE_CHANGED_CHANNEL, userId],
      );
      await subscriber.received(1);
      expect(subscriber.values('journeyStageChanged')).toEqual([{ customerId: userId, from: null, to: 'DISCOVERY', at: at(0), eventType: 'Ad Clicked' }]);
    });
  });

  describe('customerUpdated', () => {
    it('pushes the updated customer, read afresh for each message, through the Customer field resolvers', async () => {
      const userId = unique('mary');
      const stageOf = async () => (await database.query<{ stages: string[] }>('SELECT array_agg(to_stage ORDER BY at) AS stages FROM journey_transitions WHERE customer_id = $1', [userId])).rows[0]!.stages;
      await record([{ type: 'Product Viewed', userId, occurredAt: at(0) }]);
      await eventually(async () => (await database.query('SELECT 1 FROM customer_profiles WHERE customer_id = $1', [userId])).rowCount === 1, 'the profile');
      await eventually(async () => (await stageOf())?.length === 1, 'the journey stage');
      const support = subscribe(CUSTOMER_UPDATED, { id: userId });
      const admin = subscribe(CUSTOMER_UPDATED, { id: userId }, apiKeys.admin);
      const analyst = subscribe(CUSTOMER_UPDATED, { id: userId }, apiKeys.analyst);
      const other = subscribe(CUSTOMER_UPDATED, { id: unique('nobody') });
      await registered(trailmap.app.get(CustomerUpdatesFeed), 4);

      const recorded = await record([{ type: 'Identified', userId, occurredAt: at(1), traits: { email: 'mary@example.com', name: 'Mary Somerville' } }]);
      await support.received(1);
      latency('customerUpdated', recorded, support, 0);
      const first = { id: userId, email: 'mary@example.com', name: 'Mary Somerville', stage: 'ENGAGEMENT', metrics: { events: 2, orders: 0 }, stageHistory: [{ to: 'ENGAGEMENT' }] };
      expect(support.values('customerUpdated')).toEqual([first]);

      await record([{ type: 'Order Completed', userId, occurredAt: at(2), properties: { order_id: 'o-4', revenue: 99 } }]);
      await support.received(2);
      expect(support.values('customerUpdated')[1]).toMatchObject({ metrics: { events: 3, orders: 1 } });
      // The journey is another projection: the next update is read once it has the new stage.
      await eventually(async () => (await stageOf())?.length === 2, 'the new journey stage');
      await record([{ type: 'Identified', userId, occurredAt: at(3), traits: { name: 'Mary F. Somerville' } }]);
      await support.received(3);
      const third = { ...first, name: 'Mary F. Somerville', stage: 'CONVERSION', metrics: { events: 4, orders: 1 }, stageHistory: [{ to: 'ENGAGEMENT' }, { to: 'CONVERSION' }] };
      // The stage history is the customer's now, not the one batched for the first message.
      expect(support.values('customerUpdated')[2]).toEqual(third);
      await admin.received(3);
      expect([admin.values('customerUpdated')[0], admin.values('customerUpdated')[2]]).toEqual([first, third]);
      // Without the personal-data permission: the same customer, personal fields null, each with a FORBIDDEN error.
      await analyst.received(3);
      expect(analyst.results[0]).toEqual({
        data: { customerUpdated: { ...first, email: null, name: null } },
        errors: [
          expect.objectContaining({ path: ['customerUpdated', 'email'], extensions: { code: 'FORBIDDEN' } }),
          expect.objectContaining({ path: ['customerUpdated', 'name'], extensions: { code: 'FORBIDDEN' } }),
        ],
      });
      await pause(200);
      expect(other.results).toEqual([]);
    });
    it('logs each message that carries personal data as a read by its subscriber, and none for a key that may not read it', async () => {
      const userId = unique('ada');
      await record([{ type: 'Product Viewed', userId, occurredAt: at(0) }]);
      await eventually(async () => (await database.query('SELECT 1 FROM customer_profiles WHERE customer_id = $1', [userId])).rowCount === 1, 'the profile');
      // Two subscribers asking the same under the same key: each one's message is a read of its own.
      const subscribers = [subscribe(CUSTOMER_UPDATED, { id: userId }), subscribe(CUSTOMER_UPDATED, { id: userId }), subscribe(CUSTOMER_UPDATED, { id: userId }, apiKeys.analyst)];
      await registered(trailmap.app.get(CustomerUpdatesFeed), 3);
      await record([{ type: 'Identified', userId, occurredAt: at(1), traits: { email: 'ada@example.com', name: 'Ada Lovelace' } }]);
      await Promise.all(subscribers.map((subscriber) => subscriber.received(1)));
      const reads = async () =>
        (await database.query<{ key_id: string; fields: string[]; operation: string }>('SELECT key_id, fields, operation FROM personal_data_access WHERE customer_id = $1', [userId])).rows;
      await eventually(async () => (await reads()).length >= 2, 'the access log');
      await pause(200);
      const logged = await reads();
      expect(logged).toEqual([1, 2].map(() => ({ key_id: logged[0]!.key_id, fields: ['email', 'name'], operation: 'subscription' })));
      const { data } = await graphql<{ personalDataAccess: { keyId: string }[] }>(trailmap, `{ personalDataAccess(customerId: "${userId}") { keyId } }`, undefined, apiKeys.operator);
      expect(data!.personalDataAccess.map((read) => read.keyId)).toEqual([logged[0]!.key_id, logged[0]!.key_id]);
    });
  });

  describe('eventRecorded', () => {
    it('delivers every event of a customer, in order, personal data opened for a key allowed to read it', async () => {
      const userId = unique('ida');
      const feed = trailmap.app.get(RecordedEventsFeed);
      expect(feed.following).toBe(false);
      const ida = subscribe(EVENT_RECORDED, { customerId: userId });
      const everyone = subscribe(EVENT_RECORDED);
      const analyst = subscribe(EVENT_RECORDED, { customerId: userId }, apiKeys.analyst);
      await registered(feed, 3);
      expect(feed.following).toBe(true);

      const first = await record([
        { type: 'Ad Clicked', userId, occurredAt: at(0), properties: { ad_id: 'a-7' } },
        { type: 'Identified', userId, occurredAt: at(1), traits: { email: 'ida@example.com' } },
        { type: 'Product Viewed', userId, occurredAt: at(2), properties: { product_id: 'p-7' } },
      ]);
      await ida.received(1);
      latency('eventRecorded (first of 3 events)', first, ida, 0);
      await record([{ type: 'Product Added', userId, occurredAt: at(3), properties: { product_id: 'p-7' } }]);
      await record([
        { type: 'Checkout Started', userId, occurredAt: at(4) },
        { type: 'Order Completed', userId, occurredAt: at(5), properties: { order_id: 'o-7', revenue: 12 } },
      ]);
      await ida.received(6);
      await pause(200);
      const events = ida.values('eventRecorded');
      expect(events).toHaveLength(6);
      expect(events.map((event) => [event.streamPosition, event.type])).toEqual([
        [0, 'Ad Clicked'],
        [1, 'Identified'],
        [2, 'Product Viewed'],
        [3, 'Product Added'],
        [4, 'Checkout Started'],
        [5, 'Order Completed'],
      ]);
      expect(events.every((event) => event.customerId === userId)).toBe(true);
      expect(events[1]!.traits).toEqual({ email: 'ida@example.com' });
      expect(everyone.values('eventRecorded').filter((event) => event.customerId === userId)).toEqual(events);
      // Personal data stays sealed for a key that may not read it.
      await analyst.received(6);
      const sealed = analyst.values('eventRecorded');
      expect(sealed[1]!.traits).toEqual({});
      expect(sealed.map(({ traits: _traits, ...event }) => event)).toEqual(events.map(({ traits: _traits, ...event }) => event));

      await Promise.all([ida.dispose(), everyone.dispose(), analyst.dispose()]);
      await registered(feed, 0);
      expect(feed.following).toBe(false);
    });
  });

  describe('across instances', () => {
    it('a subscriber on instance B receives what was recorded through instance A, whose projection runner announced it', async () => {
      const listening = await listeners(STAGE_CHANGED_CHANNEL);
      // B runs no projection: every notification B's subscribers get was sent by A.
      const other = await bootTrailmap(testDatabase.url, { TRAILMAP_PROJECTIONS: 'off', TRAILMAP_SCHEDULER_INTERVAL: '1h' });
      try {
        await eventually(
          async () => (await listeners(STAGE_CHANGED_CHANNEL)) === listening + 1 && (await listeners(CUSTOMER_UPDATED_CHANNEL)) === listening + 1,
          "B's LISTEN connections",
        );
        const userId = unique('emmy');
        const stages = subscribe(STAGE_CHANGED, { customerId: userId }, apiKeys.support, other);
        const events = subscribe(EVENT_RECORDED, { customerId: userId }, apiKeys.support, other);
        await registered(other.app.get(StageChangesFeed), 1);
        await registered(other.app.get(RecordedEventsFeed), 1);

        const recorded = await record([{ type: 'Ad Clicked', userId, occurredAt: at(0) }], trailmap);
        await stages.received(1);
        await events.received(1);
        latency('journeyStageChanged across instances (A records, B delivers)', recorded, stages, 0);
        latency('eventRecorded across instances (A records, B delivers)', recorded, events, 0);
        expect(stages.values('journeyStageChanged')).toEqual([{ customerId: userId, from: null, to: 'DISCOVERY', at: at(0), eventType: 'Ad Clicked' }]);
        expect(events.values('eventRecorded')).toEqual([expect.objectContaining({ customerId: userId, type: 'Ad Clicked', streamPosition: 0 })]);
        // B's event store began listening with this first subscriber: the second event shows the steady state.
        const again = await record([{ type: 'Product Viewed', userId, occurredAt: at(1) }], trailmap);
        await stages.received(2);
        await events.received(2);
        latency('journeyStageChanged across instances, second event', again, stages, 1);
        latency('eventRecorded across instances, second event', again, events, 1);

        // B's shutdown ends its subscriptions and closes its LISTEN connections and its follower.
        await other.stop();
        await stages.ended();
        await events.ended();
        await eventually(
          async () => (await listeners(STAGE_CHANGED_CHANNEL)) === listening && (await listeners(CUSTOMER_UPDATED_CHANNEL)) === listening,
          "B's LISTEN connections to close",
        );
        expect(other.app.get(RecordedEventsFeed).following).toBe(false);
      } finally {
        await other.stop();
      }
    });
  });

  describe('latency', () => {
    it('is measured from recordEvents returning to the message (logged, not asserted)', async () => {
      const rounds = 20;
      const customers = Array.from({ length: rounds }, () => unique('lat'));
      for (const customerId of customers) await record([{ type: 'Identified', userId: customerId, occurredAt: at(0) }]);
      await eventually(
        async () => (await database.query('SELECT 1 FROM journey_transitions WHERE customer_id = ANY($1)', [customers])).rowCount === rounds,
        'the customers in the read models',
      );
      await eventually(async () => (await database.query('SELECT 1 FROM customer_profiles WHERE customer_id = ANY($1)', [customers])).rowCount === rounds, 'the profiles');
      const stages = subscribe(STAGE_CHANGED, { to: 'ENGAGEMENT' });
      const events = subscribe(`subscription { eventRecorded { customerId } }`);
      const updates = customers.map((id) => subscribe(`subscription($id: ID!) { customerUpdated(id: $id) { id } }`, { id }));
      await registered(trailmap.app.get(StageChangesFeed), 1);
      await registered(trailmap.app.get(RecordedEventsFeed), 1);
      await registered(trailmap.app.get(CustomerUpdatesFeed), rounds);

      const samples = { journeyStageChanged: [] as number[], eventRecorded: [] as number[], customerUpdated: [] as number[] };
      for (const [round, customerId] of customers.entries()) {
        const recorded = await record([{ type: 'Product Viewed', userId: customerId, occurredAt: at(1) }]);
        const update = updates[round]!;
        await Promise.all([stages.received(round + 1), events.received(round + 1), update.received(1)]);
        expect([stages.values('journeyStageChanged')[round]!.customerId, events.values('eventRecorded')[round]!.customerId]).toEqual([customerId, customerId]);
        samples.journeyStageChanged.push(stages.arrivals[round]! - recorded);
        samples.eventRecorded.push(events.arrivals[round]! - recorded);
        samples.customerUpdated.push(update.arrivals[0]! - recorded);
      }
      for (const [subscription, values] of Object.entries(samples)) {
        const sorted = [...values].sort((a, b) => a - b);
        measurements.push(
          `${subscription}, ${rounds} rounds: median ${sorted[rounds / 2]!.toFixed(1)} ms, min ${sorted[0]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms from recordEvents returning to the message`,
        );
      }
    });
  });

  describe('authentication and permissions', () => {
    it('closes a socket without an API key, or with an unknown one, with 4401 and the reason', async () => {
      for (const [key, reason] of [
        [null, 'Unauthenticated: send connectionParams.authorization = "Bearer <key>".'],
        ['not-a-key', 'Unauthenticated: the API key in connectionParams.authorization is not valid.'],
      ] as const) {
        const subscriber = subscribe(STAGE_CHANGED, {}, key);
        await subscriber.ended();
        expect(subscriber.failure).toMatchObject({ code: 4401, reason });
        expect(subscriber.results).toEqual([]);
      }
    });

    it('answers a subscription that the key may not make with FORBIDDEN, and keeps the socket open', async () => {
      for (const [query, variables] of [
        [STAGE_CHANGED, {}],
        [CUSTOMER_UPDATED, { id: 'someone' }],
        [EVENT_RECORDED, {}],
      ] as const) {
        // An ingest key records events; it may not read customers.
        const producer = subscribe(query, variables, apiKeys.ingest);
        await producer.ended();
        expect(producer.failure).toBeUndefined();
        expect(producer.results).toEqual([
          { errors: [expect.objectContaining({ message: expect.stringContaining('customers:read'), extensions: { code: 'FORBIDDEN' } })] },
        ]);
        expect(await producer.query('{ __typename }')).toEqual({ data: { __typename: 'Query' } });
      }
      expect(trailmap.app.get(StageChangesFeed).subscriberCount).toBe(0);
      expect(trailmap.app.get(RecordedEventsFeed).following).toBe(false);
    });
  });

  describe('a slow subscriber', () => {
    it('is cut off with SUBSCRIBER_TOO_SLOW when its buffer overflows, while another subscriber to the same events gets them all', async () => {
      const customerId = unique('flood');
      const feed = trailmap.app.get(RecordedEventsFeed);
      const store = trailmap.app.get<EventStore>(EVENT_STORE);
      const fast = subscribe(`subscription($customerId: ID) { eventRecorded(customerId: $customerId) { streamPosition } }`, { customerId });

      // The slow one: a raw graphql-ws socket that stops reading once subscribed.
      const slow = new WebSocket(trailmap.graphqlUrl.replace('http', 'ws'), 'graphql-transport-ws');
      const frames: { type: string; payload?: any }[] = [];
      slow.on('message', (data) => frames.push(JSON.parse(String(data))));
      await new Promise((resolve) => slow.once('open', resolve));
      slow.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${apiKeys.support}` } }));
      await eventually(() => frames.some((frame) => frame.type === 'connection_ack'), 'connection_ack');
      slow.send(
        JSON.stringify({
          id: 'slow',
          type: 'subscribe',
          payload: { query: `subscription($customerId: ID) { eventRecorded(customerId: $customerId) { streamPosition properties } }`, variables: { customerId } },
        }),
      );
      await registered(feed, 2);
      slow.pause();

      try {
        // Large events fill the socket's buffers first; then the slow subscription's own buffer overflows.
        const padding = 'x'.repeat(8_000);
        let appended = 0;
        while (feed.subscriberCount === 2) {
          if (appended > 40_000) throw new Error(`the slow subscriber was not cut off after ${appended} events`);
          const events: NewEvent[] = Array.from({ length: 250 }, (_, index) => ({
            id: randomUUID(),
            type: 'Page Viewed',
            data: { userId: customerId, properties: { path: `/${appended + index}`, padding } },
            metadata: { occurredAt: at(appended + index), schemaVersion: 1 },
          }));
          await store.append(`customer-${customerId}`, events, { expectedRevision: 'any' });
          appended += events.length;
          await fast.received(appended, 60_000);
        }
        expect(appended).toBeGreaterThan(SUBSCRIBER_BUFFER_LIMIT);

        // The other subscriber is unaffected: every event, in order.
        await fast.received(appended, 60_000);
        await pause(100);
        expect(fast.values('eventRecorded').map((event) => event.streamPosition)).toEqual(Array.from({ length: appended }, (_, position) => position));
        expect(fast.failure).toBeUndefined();

        // The slow client, reading again, finds what the socket held, then the error that ended its subscription.
        slow.resume();
        await eventually(() => frames.some((frame) => frame.type === 'error'), 'the error frame', 60_000);
        const delivered = frames.filter((frame) => frame.type === 'next');
        const ending = frames.find((frame) => frame.type === 'error')!;
        expect(ending.payload).toEqual([{ message: expect.stringMatching(/fell 1000 messages behind/), extensions: { code: 'SUBSCRIBER_TOO_SLOW' } }]);
        expect(delivered.length).toBeLessThan(appended);
        expect(delivered.map((frame) => frame.payload.data.eventRecorded.streamPosition)).toEqual(Array.from({ length: delivered.length }, (_, position) => position));
        measurements.push(`slow subscriber: cut off after ${appended} events of ~8 KB; it had read ${delivered.length} before its buffer of ${SUBSCRIBER_BUFFER_LIMIT} overflowed`);
        // The socket itself stays usable.
        expect(slow.readyState).toBe(WebSocket.OPEN);
      } finally {
        slow.close();
      }
    });
  });
});
