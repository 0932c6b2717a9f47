import { SUBSCRIBER_BUFFER_LIMIT, SubscriberBuffer, SubscriberTooSlow } from './subscriber-buffer.js';

async function readAll<T>(buffer: SubscriberBuffer<T>): Promise<T[]> {
  const read: T[] = [];
  for await (const message of buffer) read.push(message);
  return read;
}

describe('SubscriberBuffer', () => {
  it('hands messages over in the order they were pushed, to a reader that waits or one that comes later', async () => {
    const buffer = new SubscriberBuffer<number>();
    const first = buffer.next();
    buffer.push(1);
    buffer.push(2);
    buffer.push(3);
    expect(await first).toEqual({ value: 1, done: false });
    expect(await buffer.next()).toEqual({ value: 2, done: false });
    expect(await buffer.next()).toEqual({ value: 3, done: false });
  });

  it('holds up to its limit, 1,000 messages by default', () => {
    const buffer = new SubscriberBuffer<number>();
    expect(buffer.limit).toBe(SUBSCRIBER_BUFFER_LIMIT);
    expect(SUBSCRIBER_BUFFER_LIMIT).toBe(1_000);
    for (let message = 0; message < SUBSCRIBER_BUFFER_LIMIT; message += 1) expect(buffer.push(message)).toBe(true);
    expect(buffer.size).toBe(SUBSCRIBER_BUFFER_LIMIT);
    expect(buffer.ended).toBe(false);
  });

  it('ends with SUBSCRIBER_TOO_SLOW on overflow, dropping what waited, and takes no more', async () => {
    let ends = 0;
    const buffer = new SubscriberBuffer<number>(() => (ends += 1), 3);
    expect([1, 2, 3].map((message) => buffer.push(message))).toEqual([true, true, true]);
    expect(buffer.push(4)).toBe(false);
    expect(buffer.ended).toBe(true);
    expect(buffer.size).toBe(0);
    expect(ends).toBe(1);
    expect(buffer.push(5)).toBe(false);

    const failure = await buffer.next().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SubscriberTooSlow);
    expect((failure as SubscriberTooSlow).extensions).toEqual({ code: 'SUBSCRIBER_TOO_SLOW' });
    expect((failure as SubscriberTooSlow).message).toMatch(/fell 3 messages behind/);
    expect(await buffer.next()).toEqual({ value: undefined, done: true });
  });

  it('a reader that keeps up never overflows, however many messages pass', async () => {
    const buffer = new SubscriberBuffer<number>(undefined, 2);
    const reading = readAll(buffer);
    for (let message = 0; message < 10_000; message += 1) {
      expect(buffer.push(message)).toBe(true);
      if (message % 2 === 1) await new Promise((resolve) => setImmediate(resolve));
    }
    buffer.end();
    expect(await reading).toHaveLength(10_000);
  });

  it('one overflowing buffer leaves the others of the same messages untouched', async () => {
    const slow = new SubscriberBuffer<number>(undefined, 5);
    const fast = new SubscriberBuffer<number>(undefined, 5);
    const received = readAll(fast);
    for (let message = 0; message < 20; message += 1) {
      slow.push(message);
      fast.push(message);
      await Promise.resolve();
    }
    fast.end();
    expect(await received).toEqual(Array.from({ length: 20 }, (_, message) => message));
    await expect(readAll(slow)).rejects.toBeInstanceOf(SubscriberTooSlow);
  });

  it('fail() rejects a reader that is waiting, once', async () => {
    const buffer = new SubscriberBuffer<number>();
    const waiting = buffer.next();
    buffer.fail(new Error('database gone'));
    await expect(waiting).rejects.toThrow('database gone');
    expect(await buffer.next()).toEqual({ value: undefined, done: true });
  });

  it('return() (the client left) ends a waiting reader, drops what waited and calls onEnd once', async () => {
    let ends = 0;
    const buffer = new SubscriberBuffer<string>(() => (ends += 1));
    const waiting = buffer.next();
    await buffer.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(buffer.push('late')).toBe(false);
    await buffer.return();
    buffer.fail(new Error('after the end'));
    expect(ends).toBe(1);
    expect(await buffer.next()).toEqual({ value: undefined, done: true });
  });

  it('end() (shutdown) lets the reader finish what waits, then completes', async () => {
    const buffer = new SubscriberBuffer<string>();
    buffer.push('a');
    buffer.push('b');
    buffer.end();
    expect(await readAll(buffer)).toEqual(['a', 'b']);
  });
});
