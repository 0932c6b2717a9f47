import { randomUUID } from 'node:crypto';
import {
  ConcurrencyConflict,
  EventIdConflict,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type StoredEvent,
} from '../../src/modules/event-store/event-store.port.js';

/** What a store needs to offer the contract suite beyond the port itself. */
export interface EventStoreHarness {
  store(): EventStore;
  /** Drops the store's connections (listeners included) to prove subscriptions resume. */
  disconnect(): Promise<void>;
  /**
   * Starts an append whose transaction stays open until `commit` (stores with transactions only):
   * its events take a global position before events appended after it.
   */
  beginAppend?(stream: string, events: NewEvent[]): Promise<{ commit(): Promise<void> }>;
}

export function newEvent(type = 'Page Viewed', data: Record<string, unknown> = {}): NewEvent {
  return {
    id: randomUUID(),
    type,
    data: { properties: { path: '/pricing', title: 'Pricing' }, ...data },
    metadata: {
      occurredAt: '2026-11-20T10:00:00.000Z',
      correlationId: randomUUID(),
      causationId: randomUUID(),
      schemaVersion: 1,
    },
  };
}

const events = (count: number, type?: string) => Array.from({ length: count }, () => newEvent(type));

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/**
 * The global order up to its end. Readers stop below the oldest open transaction of the whole
 * PostgreSQL cluster (other test databases included), so a read right after an append waits
 * until the `expected` count is visible.
 */
async function readToEnd(store: EventStore, streamPrefix: string, after?: string, expected = 0): Promise<StoredEvent[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const all: StoredEvent[] = [];
    let from = after;
    for (;;) {
      const page = await store.readAll({ after: from, streamPrefix, limit: 250 });
      all.push(...page);
      if (page.length < 250) break;
      from = page.at(-1)!.position;
    }
    if (all.length >= expected || Date.now() > deadline) return all;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function currentRevision(store: EventStore, stream: string): Promise<ExpectedRevision> {
  for await (const event of store.readStream(stream, { direction: 'backward', limit: 1 })) return event.revision;
  return 'no_stream';
}

/** The events of a subscription's next pages, until `count` of them (or more, if a page holds more) or the timeout. */
async function take(iterator: AsyncIterator<StoredEvent[]>, count: number, timeoutMs = 10_000): Promise<StoredEvent[]> {
  const taken: StoredEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
  });
  try {
    while (taken.length < count) {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next === 'timeout' || next.done) break;
      expect(next.value.length).toBeGreaterThan(0);
      taken.push(...next.value);
    }
    return taken;
  } finally {
    clearTimeout(timer);
  }
}

/** Heap still in use after a full collection (jest runs with --expose-gc), else an upper bound. */
function retainedHeap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

/** The behaviour every event store must have; run against each implementation. */
export function eventStoreContract(harness: EventStoreHarness): void {
  let prefix: string;
  const stream = (name: string) => `${prefix}${name}`;
  beforeEach(() => {
    prefix = `customer-${randomUUID().slice(0, 8)}-`;
  });

  describe('append and read back', () => {
    it('stores events with revisions from 0 and every field a reader needs', async () => {
      const store = harness.store();
      const written = events(3);
      const result = await store.append(stream('a'), written, { expectedRevision: 'no_stream' });
      expect(result.nextExpectedRevision).toBe(2);
      expect(result.events.map((event) => [event.revision, event.duplicate])).toEqual([
        [0, false],
        [1, false],
        [2, false],
      ]);

      const read = await collect(store.readStream(stream('a')));
      expect(read).toHaveLength(3);
      read.forEach((event, index) => {
        expect(event).toMatchObject({
          id: written[index]!.id,
          type: 'Page Viewed',
          stream: stream('a'),
          revision: index,
          data: written[index]!.data,
          metadata: { ...written[index]!.metadata, recordedAt: expect.any(String) },
        });
        expect(Number.isNaN(Date.parse(event.metadata.recordedAt))).toBe(false);
      });
      expect(read.map((event) => event.position)).toEqual(result.events.map((event) => event.position));
      expect(result.position).toBe(read[2]!.position);
      expect([...read.map((event) => event.position)].sort()).toEqual(read.map((event) => event.position));
    });

    it('reads particular events by stream and revision, in the order asked', async () => {
      const store = harness.store();
      await store.append(stream('x'), events(3), { expectedRevision: 'no_stream' });
      await store.append(stream('y'), events(2), { expectedRevision: 'no_stream' });
      const read = await store.readEvents([
        { stream: stream('y'), revision: 1 },
        { stream: stream('x'), revision: 0 },
        { stream: stream('x'), revision: 7 },
        { stream: stream('x'), revision: 2 },
      ]);
      expect(read.map((event) => [event.stream, event.revision])).toEqual([
        [stream('y'), 1],
        [stream('x'), 0],
        [stream('x'), 2],
      ]);
    });

    it('reads a missing stream as empty', async () => {
      expect(await collect(harness.store().readStream(stream('missing')))).toEqual([]);
    });

    it('reads a stream backwards, from a revision, with a limit', async () => {
      const store = harness.store();
      await store.append(stream('b'), events(10), { expectedRevision: 'no_stream' });
      const backwards = await collect(store.readStream(stream('b'), { direction: 'backward', from: 7, limit: 3, pageSize: 2 }));
      expect(backwards.map((event) => event.revision)).toEqual([7, 6, 5]);
      const forwards = await collect(store.readStream(stream('b'), { from: 8, pageSize: 1 }));
      expect(forwards.map((event) => event.revision)).toEqual([8, 9]);
    });
  });

  describe('expected revision', () => {
    const conflict = async (promise: Promise<unknown>) => {
      const error = await promise.then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConcurrencyConflict);
      return error as ConcurrencyConflict;
    };

    it("'no_stream' succeeds on a new stream and conflicts on an existing one", async () => {
      const store = harness.store();
      await store.append(stream('c'), events(2), { expectedRevision: 'no_stream' });
      const error = await conflict(store.append(stream('c'), events(1), { expectedRevision: 'no_stream' }));
      expect(error).toMatchObject({ stream: stream('c'), expected: 'no_stream', actual: 1 });
    });

    it("'exists' conflicts on a missing stream and succeeds on an existing one", async () => {
      const store = harness.store();
      const error = await conflict(store.append(stream('d'), events(1), { expectedRevision: 'exists' }));
      expect(error).toMatchObject({ stream: stream('d'), expected: 'exists', actual: -1 });
      await store.append(stream('d'), events(1), { expectedRevision: 'any' });
      const result = await store.append(stream('d'), events(1), { expectedRevision: 'exists' });
      expect(result.nextExpectedRevision).toBe(1);
    });

    it('a revision number succeeds when it is the last revision and conflicts otherwise', async () => {
      const store = harness.store();
      await store.append(stream('e'), events(3), { expectedRevision: 'no_stream' });
      const error = await conflict(store.append(stream('e'), events(1), { expectedRevision: 1 }));
      expect(error).toMatchObject({ stream: stream('e'), expected: 1, actual: 2 });
      expect((await store.append(stream('e'), events(1), { expectedRevision: 2 })).nextExpectedRevision).toBe(3);
      expect(await collect(store.readStream(stream('e')))).toHaveLength(4);
    });

    it("'any' appends whatever the stream's state", async () => {
      const store = harness.store();
      await store.append(stream('f'), events(1), { expectedRevision: 'any' });
      const result = await store.append(stream('f'), events(1), { expectedRevision: 'any' });
      expect(result.nextExpectedRevision).toBe(1);
    });

    it('a conflicting append stores nothing', async () => {
      const store = harness.store();
      await store.append(stream('g'), events(1), { expectedRevision: 'no_stream' });
      await conflict(store.append(stream('g'), events(5), { expectedRevision: 3 }));
      expect(await collect(store.readStream(stream('g')))).toHaveLength(1);
    });
  });

  describe('idempotency', () => {
    it('stores a retried batch once and reports its events as duplicates', async () => {
      const store = harness.store();
      const batch = events(3);
      const first = await store.append(stream('h'), batch, { expectedRevision: 'no_stream' });
      const retry = await store.append(stream('h'), batch, { expectedRevision: 'no_stream' });
      expect(retry.events.map((event) => [event.id, event.revision, event.duplicate])).toEqual(
        first.events.map((event) => [event.id, event.revision, true]),
      );
      expect(retry.events.map((event) => event.position)).toEqual(first.events.map((event) => event.position));
      expect(await collect(store.readStream(stream('h')))).toHaveLength(3);
    });

    it('appends the new events of a batch that repeats some stored ones', async () => {
      const store = harness.store();
      const [a, b, c] = events(3);
      await store.append(stream('i'), [a!, b!], { expectedRevision: 'any' });
      const result = await store.append(stream('i'), [b!, c!], { expectedRevision: 1 });
      expect(result.events.map((event) => [event.id, event.revision, event.duplicate])).toEqual([
        [b!.id, 1, true],
        [c!.id, 2, false],
      ]);
    });

    it('refuses an event id that is already in another stream', async () => {
      const store = harness.store();
      const event = newEvent();
      await store.append(stream('j'), [event], { expectedRevision: 'any' });
      await expect(store.append(stream('k'), [event], { expectedRevision: 'any' })).rejects.toBeInstanceOf(EventIdConflict);
      expect(await collect(store.readStream(stream('k')))).toEqual([]);
    });

    it('stores a retried multi-stream batch once', async () => {
      const store = harness.store();
      const appends = ['l', 'm', 'n'].map((name) => ({ stream: stream(name), events: events(2), expectedRevision: 'any' as const }));
      await store.appendMany(appends);
      const retry = await store.appendMany(appends);
      expect(retry.flatMap((result) => result.events.map((event) => event.duplicate))).toEqual(Array(6).fill(true));
      expect(await readToEnd(store, prefix, undefined, 6)).toHaveLength(6);
    });
  });

  it("16 concurrent writers × 50 batches on one stream and streams of their own, whatever the revision ('any'), leave each stream's revisions 0..n in the global order", async () => {
    const store = harness.store();
    const shared = stream('any-shared');
    const written: string[] = [];
    const writer = async (index: number) => {
      for (let count = 0; count < 50; count += 1) {
        const [mine, ours] = [newEvent(), newEvent()];
        await store.appendMany([
          { stream: shared, events: [ours!], expectedRevision: 'any' },
          { stream: stream(`any-own-${index}`), events: [mine!], expectedRevision: 'any' },
        ]);
        written.push(ours!.id);
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, index) => writer(index)));
    const stored = await collect(store.readStream(shared, { pageSize: 400 }));
    expect(stored.map((event) => event.revision)).toEqual(Array.from({ length: 800 }, (_, index) => index));
    expect(new Set(stored.map((event) => event.id))).toEqual(new Set(written));
    for (let index = 0; index < 16; index += 1) {
      expect((await collect(store.readStream(stream(`any-own-${index}`)))).map((event) => event.revision)).toEqual(Array.from({ length: 50 }, (_, revision) => revision));
    }
    // The global order follows each stream's revisions.
    const all = await readToEnd(store, prefix, undefined, 800 + 16 * 50);
    const sharedInOrder = all.filter((event) => event.stream === shared).map((event) => event.revision);
    expect(sharedInOrder).toEqual(Array.from({ length: 800 }, (_, index) => index));
  }, 120_000);

  it('16 concurrent writers × 100 events on one stream, retrying on conflict, leave revisions 0..1599 with nothing lost', async () => {
    const store = harness.store();
    const target = stream('contended');
    const written: string[] = [];
    const writer = async () => {
      for (let count = 0; count < 100; count += 1) {
        const event = newEvent();
        for (;;) {
          try {
            await store.append(target, [event], { expectedRevision: await currentRevision(store, target) });
            written.push(event.id);
            break;
          } catch (error) {
            if (!(error instanceof ConcurrencyConflict)) throw error;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, writer));
    const stored = await collect(store.readStream(target, { pageSize: 400 }));
    expect(stored.map((event) => event.revision)).toEqual(Array.from({ length: 1_600 }, (_, index) => index));
    expect(new Set(stored.map((event) => event.id))).toEqual(new Set(written));
  }, 120_000);

  describe('the global order', () => {
    it('reads every stream with the prefix in append order, after an exclusive position', async () => {
      const store = harness.store();
      await store.append(stream('o'), events(2), { expectedRevision: 'any' });
      await store.append('other-stream-' + prefix, events(1), { expectedRevision: 'any' });
      await store.append(stream('p'), events(2), { expectedRevision: 'any' });
      const all = await readToEnd(store, prefix, undefined, 4);
      expect(all.map((event) => [event.stream, event.revision])).toEqual([
        [stream('o'), 0],
        [stream('o'), 1],
        [stream('p'), 0],
        [stream('p'), 1],
      ]);
      expect(await store.readAll({ after: all[1]!.position, streamPrefix: prefix, limit: 10 })).toEqual(all.slice(2));
      expect(await store.readAll({ after: all[3]!.position, streamPrefix: prefix, limit: 10 })).toEqual([]);
      expect(await store.countAfter(all[1]!.position)).toBeGreaterThanOrEqual(2);
      const head = await store.headPosition();
      expect(head! >= all[3]!.position).toBe(true);
    });

    if (harness.beginAppend) {
      it('never moves past an event whose transaction commits after a later one', async () => {
        const store = harness.store();
        const [first, early, late] = events(3);
        await store.append(stream('first'), [first!], { expectedRevision: 'any' });
        await readToEnd(store, prefix, undefined, 1);
        const held = await harness.beginAppend!(stream('early'), [early!]);
        await store.append(stream('late'), [late!], { expectedRevision: 'any' });

        const whileOpen = await readToEnd(store, prefix);
        expect(whileOpen.map((event) => event.id)).toEqual([first!.id]);

        await held.commit();
        const afterCommit = await readToEnd(store, prefix, undefined, 3);
        expect(afterCommit.map((event) => event.id)).toEqual([first!.id, early!.id, late!.id]);
        // A reader that had stopped at the horizon continues without skipping or repeating.
        const resumed = await readToEnd(store, prefix, whileOpen.at(-1)!.position, 2);
        expect(resumed.map((event) => event.id)).toEqual([early!.id, late!.id]);
      });
    }
  });

  describe('subscriptions', () => {
    it('deliver every event once, in order, across catch-up and live, and resume after a forced disconnect', async () => {
      const store = harness.store();
      const controller = new AbortController();
      const before = ['q', 'r'].map((name) => ({ stream: stream(name), events: events(25), expectedRevision: 'any' as const }));
      await store.appendMany(before);
      const iterator = store.subscribe({ streamPrefix: prefix, signal: controller.signal })[Symbol.asyncIterator]();
      try {
        const caughtUp = await take(iterator, 50);
        expect(caughtUp.map((event) => event.id)).toEqual(before.flatMap((append) => append.events.map((event) => event.id)));

        const live = events(20);
        for (const [index, event] of live.entries()) {
          await store.append(stream(index % 2 ? 'q' : 's'), [event], { expectedRevision: 'any' });
        }
        expect((await take(iterator, 20)).map((event) => event.id)).toEqual(live.map((event) => event.id));

        await harness.disconnect();
        const afterDrop = events(10);
        for (const event of afterDrop) await store.append(stream('t'), [event], { expectedRevision: 'any' });
        expect((await take(iterator, 10, 20_000)).map((event) => event.id)).toEqual(afterDrop.map((event) => event.id));
        expect(await take(iterator, 1, 300)).toEqual([]);
      } finally {
        controller.abort();
        await iterator.return?.();
      }
    }, 60_000);

    it('deliver every event once, in order, to each of four subscribers following the same tail from different places (as the projections do)', async () => {
      const store = harness.store();
      const controller = new AbortController();
      const early = events(6);
      await store.append(stream('early'), early, { expectedRevision: 'any' });
      const positions = (await readToEnd(store, prefix, undefined, 6)).map((event) => event.position);
      const starts = [undefined, 3, 4, 1];
      const iterators = starts.map((start) =>
        store.subscribe({ after: start === undefined ? undefined : positions[start], streamPrefix: prefix, signal: controller.signal })[Symbol.asyncIterator](),
      );
      try {
        const appended: string[] = [];
        const later = 25 + (harness.beginAppend ? 4 : 0);
        const wanted = (index: number) => later + 6 - (starts[index] === undefined ? 0 : starts[index]! + 1);
        const received = iterators.slice(0, 3).map((iterator, index) => take(iterator, wanted(index), 20_000));
        // The last one starts once the others have read: it begins in the middle of what they read.
        await new Promise((resolve) => setTimeout(resolve, 100));
        received.push(take(iterators[3]!, wanted(3), 20_000));
        for (let round = 0; round < 20; round++) {
          const batch = events(round % 4 === 0 ? 2 : 1);
          appended.push(...batch.map((event) => event.id));
          if (batch.length === 2) {
            await store.appendMany(batch.map((event, index) => ({ stream: stream(`v${index}`), events: [event], expectedRevision: 'any' as const })));
          } else {
            await store.append(stream(`w${round % 3}`), batch, { expectedRevision: 'any' });
          }
          if (round % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 15));
        }
        if (harness.beginAppend) {
          // Events held back by an open transaction reach every subscriber once it commits, the later ones after them.
          const [held, ...after] = events(4);
          const open = await harness.beginAppend(stream('held'), [held!]);
          for (const event of after) await store.append(stream('after-held'), [event], { expectedRevision: 'any' });
          await new Promise((resolve) => setTimeout(resolve, 100));
          await open.commit();
          appended.push(held!.id, ...after.map((event) => event.id));
        }
        expect(appended).toHaveLength(later);
        const delivered = await Promise.all(received);
        delivered.forEach((subscriber, index) => {
          const skipped = starts[index] === undefined ? 0 : starts[index]! + 1;
          const ids = subscriber.map((event) => event.id);
          expect(ids.slice(0, 6 - skipped)).toEqual(early.slice(skipped).map((event) => event.id));
          expect([...ids.slice(6 - skipped)].sort()).toEqual([...appended].sort());
          expect(new Set(ids).size).toBe(ids.length);
          expect(subscriber.map((event) => event.position)).toEqual(subscriber.map((event) => event.position).sort());
        });
        expect(await Promise.all(iterators.map((iterator) => take(iterator, 1, 300)))).toEqual([[], [], [], []]);
      } finally {
        controller.abort();
        await Promise.all(iterators.map((iterator) => iterator.return?.()));
      }
    }, 60_000);

    it('start after any position and end when aborted', async () => {
      const store = harness.store();
      await store.append(stream('u'), events(5), { expectedRevision: 'any' });
      const all = await readToEnd(store, prefix, undefined, 5);
      const controller = new AbortController();
      const iterator = store.subscribe({ after: all[2]!.position, streamPrefix: prefix, signal: controller.signal })[Symbol.asyncIterator]();
      expect((await take(iterator, 2)).map((event) => event.revision)).toEqual([3, 4]);
      controller.abort();
      expect(await iterator.next()).toEqual({ done: true, value: undefined });
    });
  });

  it('reads a 100,000-event stream in pages with flat memory', async () => {
    const store = harness.store();
    const long = stream('long');
    const payload = 'x'.repeat(200);
    for (let batch = 0; batch < 100; batch += 1) {
      const chunk = Array.from({ length: 1_000 }, () => newEvent('Product Viewed', { note: payload }));
      await store.append(long, chunk, { expectedRevision: batch === 0 ? 'no_stream' : batch * 1_000 - 1 });
    }
    const samples: number[] = [];
    let count = 0;
    let expected = 0;
    for await (const event of store.readStream(long, { pageSize: 1_000 })) {
      if (event.revision !== expected) throw new Error(`revision ${event.revision} read where ${expected} was expected`);
      expected += 1;
      count += 1;
      if (count % 10_000 === 0) samples.push(retainedHeap());
    }
    expect(count).toBe(100_000);
    // 100,000 events held at once would retain well over 100 MB.
    expect(Math.max(...samples) - Math.min(...samples)).toBeLessThan(20 * 1024 * 1024);
  }, 180_000);
}
