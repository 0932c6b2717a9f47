import { GraphQLError } from 'graphql';

/** Messages one subscription may have waiting for its client; one more ends it. */
export const SUBSCRIBER_BUFFER_LIMIT = 1_000;

/** The client read slower than its messages arrived: its subscription was ended, the others go on. */
export class SubscriberTooSlow extends GraphQLError {
  constructor(limit: number) {
    super(
      `This subscription was ended because its client fell ${limit} messages behind. Read messages as they arrive (or narrow the filters), then subscribe again.`,
      { extensions: { code: 'SUBSCRIBER_TOO_SLOW' } },
    );
    this.name = 'SubscriberTooSlow';
  }
}

interface Pull<T> {
  resolve(result: IteratorResult<T, undefined>): void;
  reject(error: unknown): void;
}

/**
 * One subscription's messages in order, as the async iterator GraphQL reads: a feed pushes, the
 * socket pulls. At most `limit` messages wait; one more drops them and ends this subscription with
 * SubscriberTooSlow, so a client that stops reading costs bounded memory. `onEnd` runs once,
 * whatever ended it (overflow, failure, the client leaving, shutdown), to take it off its feed.
 */
export class SubscriberBuffer<T> implements AsyncIterableIterator<T, undefined> {
  private waiting: T[] = [];
  private readonly pulls: Pull<T>[] = [];
  private failure?: unknown;
  private open = true;

  constructor(
    private readonly onEnd: () => void = () => undefined,
    readonly limit: number = SUBSCRIBER_BUFFER_LIMIT,
  ) {}

  get ended(): boolean {
    return !this.open;
  }

  /** Messages waiting to be read. */
  get size(): number {
    return this.waiting.length;
  }

  /** Queues a message; false when the subscription has ended, this push having overflowed it or not. */
  push(message: T): boolean {
    if (!this.open) return false;
    const pull = this.pulls.shift();
    if (pull) {
      pull.resolve({ value: message, done: false });
      return true;
    }
    if (this.waiting.length >= this.limit) {
      this.fail(new SubscriberTooSlow(this.limit));
      return false;
    }
    this.waiting.push(message);
    return true;
  }

  /** Ends the subscription with `error`, read next: the messages still waiting are dropped. */
  fail(error: unknown): void {
    if (!this.open) return;
    this.waiting = [];
    this.failure = error;
    this.close();
  }

  /** Ends the subscription once the messages already waiting are read (shutdown). */
  end(): void {
    this.close();
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.waiting.length > 0) return Promise.resolve({ value: this.waiting.shift()!, done: false });
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.failure = undefined;
      return Promise.reject(failure);
    }
    if (!this.open) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.pulls.push({ resolve, reject }));
  }

  /** The reader is gone (client completed or disconnected). */
  return(): Promise<IteratorResult<T, undefined>> {
    this.waiting = [];
    this.failure = undefined;
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T, undefined>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private close(): void {
    if (!this.open) return;
    this.open = false;
    // Pending pulls exist only while nothing waits: the first gets the failure, if any.
    for (const pull of this.pulls.splice(0)) {
      if (this.failure !== undefined) {
        pull.reject(this.failure);
        this.failure = undefined;
      } else {
        pull.resolve({ value: undefined, done: true });
      }
    }
    this.onEnd();
  }
}
