import { createCatalog, defaultEventTypes } from '../domain/catalog/index.js';
import { checkEvents } from '../domain/ingestion/incoming-event.js';
import { fromSegmentMessage } from '../domain/ingestion/segment.js';
import { lifecycle, stageRules } from '../domain/journey/stage-rules.js';
import { demoCustomerIds, estimateMessageCount, generateJourneys, type DemoMessage, type JourneyOptions } from './journeys.js';
import { seedOf } from './random.js';

const DAY = 86_400_000;
const window: Omit<JourneyOptions, 'customers' | 'seed'> = { start: '2026-03-01T00:00:00.000Z', days: 60 };
const windowEnd = new Date(Date.parse(window.start) + window.days * DAY).toISOString();
const catalog = createCatalog(defaultEventTypes);

function take(options: JourneyOptions, count: number): DemoMessage[] {
  const taken: DemoMessage[] = [];
  for (const message of generateJourneys(options)) {
    if (taken.length === count) break;
    taken.push(message);
  }
  return taken;
}

function eventTypeOf(message: DemoMessage): string {
  return fromSegmentMessage(message.type, message, { receivedAt: windowEnd }).type as string;
}

function customerOf(message: DemoMessage): number {
  return Number(/^demo-\d+-(\d+)-\d+$/.exec(message.messageId)![1]);
}

/** Each customer's messages, in the order generated. */
function byCustomer(messages: DemoMessage[]): Map<number, DemoMessage[]> {
  const customers = new Map<number, DemoMessage[]>();
  for (const message of messages) {
    const own = customers.get(customerOf(message));
    if (own) own.push(message);
    else customers.set(customerOf(message), [message]);
  }
  return customers;
}

/** The furthest lifecycle stage the stage rules give a customer's messages (dormancy aside). */
function furthestStage(messages: DemoMessage[]): string {
  let rank = 0;
  let orders = 0;
  for (const message of messages) {
    const type = eventTypeOf(message);
    if (type === stageRules.repeatOrder.eventType) orders += 1;
    const implied = orders >= stageRules.repeatOrder.completedOrders ? stageRules.repeatOrder.stage : stageRules.stageOfCategory[catalog.categoryOf(type)!];
    if (implied !== null) rank = Math.max(rank, lifecycle.indexOf(implied));
  }
  return lifecycle[rank]!;
}

describe('demo journeys', () => {
  const population = { ...window, customers: 2_000, seed: 42 };
  let messages: DemoMessage[];
  let customers: Map<number, DemoMessage[]>;

  beforeAll(() => {
    messages = [...generateJourneys(population)];
    customers = byCustomer(messages);
  });

  it('gives the same messages, ids included, for the same seed and different ones for another seed', () => {
    const first = take({ ...window, customers: 500, seed: 7 }, 1_000);
    expect(first).toHaveLength(1_000);
    expect(take({ ...window, customers: 500, seed: 7 }, 1_000)).toEqual(first);
    const other = take({ ...window, customers: 500, seed: 8 }, 1_000);
    expect(other).not.toEqual(first);
    expect(other.map((message) => message.messageId)).not.toEqual(first.map((message) => message.messageId));
  });

  it('gives customers whose random streams coincide anonymous ids of their own', () => {
    // Among a million customers of two seeds, 96 pairs share a 32-bit random stream, as these two do.
    expect(seedOf(1, 'customer', 485_248)).toBe(seedOf(2, 'customer', 170_730));
    const one = demoCustomerIds(1, 485_248);
    const other = demoCustomerIds(2, 170_730);
    expect(new Set([one.anonymousId, one.mobileAnonymousId, other.anonymousId, other.mobileAnonymousId]).size).toBe(4);
    expect(demoCustomerIds(1, 485_248)).toEqual(one);
  });

  it('keeps message ids unique', () => {
    expect(new Set(messages.map((message) => message.messageId)).size).toBe(messages.length);
  });

  it('sends messages in time order, inside the window', () => {
    const times = messages.map((message) => Date.parse(message.timestamp));
    expect(times.every((time, index) => index === 0 || time >= times[index - 1]!)).toBe(true);
    expect(times[0]).toBeGreaterThanOrEqual(Date.parse(window.start));
    expect(times.at(-1)).toBeLessThan(Date.parse(windowEnd));
  });

  it('passes the catalog: every message becomes an event with no problem', () => {
    const problems = [];
    for (let from = 0; from < messages.length; from += 1_000) {
      const chunk = messages.slice(from, from + 1_000);
      const events = chunk.map((message) => fromSegmentMessage(message.type, message, { receivedAt: windowEnd }));
      const checked = checkEvents(events, catalog, { receivedAt: windowEnd, newId: () => 'unused' });
      problems.push(...checked.problems.map((problem) => ({ ...problem, message: chunk[problem.index!] })));
    }
    expect(problems).toEqual([]);
  });

  it('exercises every event type producers may send', () => {
    const sent = new Set(messages.map(eventTypeOf));
    const producerTypes = defaultEventTypes.filter((type) => type.category !== 'SYSTEM').map((type) => type.name);
    expect(producerTypes.filter((type) => !sent.has(type))).toEqual([]);
  });

  it('leaves customers at every stage of the journey', () => {
    const reached = new Map<string, number>();
    for (const own of customers.values()) {
      const stage = furthestStage(own);
      reached.set(stage, (reached.get(stage) ?? 0) + 1);
    }
    for (const stage of lifecycle) expect(reached.get(stage) ?? 0).toBeGreaterThan(population.customers * 0.05);
    const repeatBuyers = [...customers.values()].filter((own) => own.filter((message) => message.event === 'Order Completed').length >= 2);
    expect(repeatBuyers.length).toBeGreaterThan(0);
  });

  it('has anonymous-only customers and customers linked by identify and by alias', () => {
    const linkedBy = { anonymous: 0, identify: 0, alias: 0 };
    for (const own of customers.values()) {
      const firstKnown = own.find((message) => message.userId !== undefined);
      if (!firstKnown) {
        linkedBy.anonymous += 1;
        continue;
      }
      const anonymousBefore = own[0]!.anonymousId;
      expect(anonymousBefore).toBeDefined();
      if (firstKnown.type === 'identify') {
        expect(firstKnown.anonymousId).toBe(anonymousBefore);
        linkedBy.identify += 1;
      } else {
        expect(firstKnown).toMatchObject({ type: 'alias', previousId: anonymousBefore });
        linkedBy.alias += 1;
      }
    }
    expect(linkedBy.anonymous).toBeGreaterThan(population.customers * 0.2);
    expect(linkedBy.identify).toBeGreaterThan(population.customers * 0.2);
    expect(linkedBy.alias).toBeGreaterThan(population.customers * 0.03);
  });

  it('carries personal data where real clients do: traits, the IP and URLs with query strings', () => {
    const identifies = messages.filter((message) => message.type === 'identify' && message.traits?.email !== undefined);
    for (const { traits } of identifies) {
      expect(traits).toMatchObject({ email: expect.stringMatching(/@example\.com$/), name: expect.any(String), phone: expect.any(String), address: { city: expect.any(String) } });
    }
    const emails = new Map(identifies.map((message) => [message.traits!.email, message.userId]));
    expect(emails.size).toBe(new Set(identifies.map((message) => message.userId)).size);
    const pages = messages.filter((message) => message.type === 'page');
    expect(pages.every((message) => typeof (message.context as { ip?: unknown }).ip === 'string')).toBe(true);
    const urls = pages.map((message) => (message.context as { page: { url: string } }).page.url);
    expect(urls.some((url) => /\?utm_source=[^&]+&.*email=[^&]+%40example\.com/.test(url))).toBe(true);
  });

  it('has mobile screens, group calls and customers who go quiet for weeks', () => {
    expect(messages.some((message) => message.type === 'screen' && message.channel === 'mobile')).toBe(true);
    expect(messages.some((message) => message.type === 'group' && message.groupId)).toBe(true);
    const quiet = [...customers.values()].filter((own) =>
      own.some((message, index) => index > 0 && Date.parse(message.timestamp) - Date.parse(own[index - 1]!.timestamp) > 30 * DAY),
    );
    expect(quiet.length).toBeGreaterThan(population.customers * 0.02);
  });

  it('counts its messages ahead: exactly for a small population, closely from a sample of a large one', () => {
    expect(estimateMessageCount(population)).toBe(messages.length);
    const estimate = estimateMessageCount(population, 200);
    expect(Math.abs(estimate - messages.length) / messages.length).toBeLessThan(0.1);
  });

  it('refuses options it cannot honour', () => {
    expect(() => take({ ...window, customers: -1, seed: 1 }, 1)).toThrow(RangeError);
    expect(() => take({ ...window, customers: 1, seed: 1, days: 0 }, 1)).toThrow(RangeError);
    expect(() => take({ ...window, customers: 1, seed: 1, start: 'yesterday' }, 1)).toThrow(RangeError);
  });
});
