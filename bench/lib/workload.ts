import { randomUUID } from 'node:crypto';
import type { TrailmapServer } from './server.js';
import { monotonicMs } from './stats.js';
import { trailmap } from './trailmap.js';

const DAY = 86_400_000;
/** The demo's window: 60 days up to today, as `npm run demo` uses. */
export const DEMO_DAYS = 60;
export const demoStart = () => new Date(Math.floor((Date.now() - DEMO_DAYS * DAY) / DAY) * DAY).toISOString();

export interface Batch {
  body: string;
  messages: number;
}

/**
 * `/v1/batch` bodies of the demo journeys (ads, browsing, sign-ups with PII traits, carts, orders,
 * returns, tickets) of `customers` customers per seed; when a population is used up the next seed
 * brings new customers, so the supply never ends and consecutive slices never repeat a message.
 */
export async function* demoBatches(customers: number, batchSize: number, firstSeed = 1): AsyncGenerator<Batch> {
  const { generateJourneys } = await trailmap.journeys();
  const { batchesOf } = await trailmap.sendDemo();
  const start = demoStart();
  for (let seed = firstSeed; ; seed++) yield* batchesOf(generateJourneys({ customers, seed, start, days: DEMO_DAYS }), batchSize);
}

/** Takes batches until they hold at least `messages` messages (generated before any timing starts). */
export async function takeBatches(source: AsyncGenerator<Batch>, messages: number): Promise<Batch[]> {
  const taken: Batch[] = [];
  let count = 0;
  while (count < messages) {
    const next = await source.next();
    if (next.done) break;
    taken.push(next.value);
    count += next.value.messages;
  }
  return taken;
}

export interface SendResult {
  messages: number;
  requests: number;
  seconds: number;
  eventsPerSecond: number;
  /** Request latencies, ms. */
  latencies: number[];
}

/** Posts prepared batches to /v1/batch with `concurrency` requests in flight; any refusal stops the run. */
export async function postBatches(server: TrailmapServer, batches: Batch[], concurrency: number): Promise<SendResult> {
  const authorization = `Basic ${Buffer.from(`${server.writeKey}:`).toString('base64')}`;
  const latencies: number[] = [];
  let next = 0;
  let messages = 0;
  const started = monotonicMs();
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      const sent = monotonicMs();
      const response = await server.post('/v1/batch', batch.body, { authorization });
      latencies.push(monotonicMs() - sent);
      if (response.status !== 200) throw new Error(`/v1/batch answered ${response.status}: ${response.body.slice(0, 500)}`);
      messages += batch.messages;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (monotonicMs() - started) / 1000;
  return { messages, requests: batches.length, seconds, eventsPerSecond: messages / seconds, latencies };
}

/** Customer ids of the single-event workloads: `bench-<n>` over a fixed population. */
export const customerOf = (population: number, n = Math.floor(Math.random() * population)) => `bench-customer-${n}`;

/**
 * One ~300-byte product view: the event of the single-event benchmarks, for Trailmap (an EventInput,
 * with an e-mail trait so personal data is sealed) and for the references (the same payload as JSON).
 */
export function productViewed(customerId: string) {
  const product = Math.floor(Math.random() * 500);
  return {
    id: randomUUID(),
    type: 'Product Viewed',
    userId: customerId,
    channel: 'web',
    properties: {
      product_id: `p-${product}`,
      sku: `TM-${product}-BLK-42`,
      category: 'Footwear',
      name: 'Trail Runner GTX',
      brand: 'Trailmap Outfitters',
      variant: 'black',
      price: 129.95,
      currency: 'EUR',
      value: 129.95,
      url: `https://shop.example.com/p/p-${product}`,
    },
    traits: { email: `${customerId}@example.com` },
  };
}

/** The reference's row payloads: the same event as data, and metadata shaped like Trailmap's. */
export function referencePayload(customerId: string) {
  const { id, type, properties, traits, channel, userId } = productViewed(customerId);
  const now = new Date().toISOString();
  return {
    id,
    type,
    data: { userId, channel, properties, traits, context: {} },
    metadata: { occurredAt: now, receivedAt: now, correlationId: randomUUID(), schemaVersion: 1, source: 'graphql' },
  };
}

/** Seeds every customer of the population with one event through /v1/batch, so measured runs do not pay first-touch costs (data keys, streams). */
export async function seedPopulation(server: TrailmapServer, population: number): Promise<void> {
  const batches: Batch[] = [];
  for (let first = 0; first < population; first += 500) {
    const messages = Array.from({ length: Math.min(500, population - first) }, (_, index) => {
      const event = productViewed(customerOf(population, first + index));
      return { type: 'track', messageId: event.id, userId: event.userId, event: event.type, properties: event.properties, traits: event.traits, timestamp: new Date().toISOString() };
    });
    batches.push({ body: JSON.stringify({ batch: messages }), messages: messages.length });
  }
  await postBatches(server, batches, 2);
}
