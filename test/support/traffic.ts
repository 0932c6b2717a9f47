import { performance } from 'node:perf_hooks';
import type { DemoMessage } from '../../src/demo/journeys.js';
import { storedEventId } from '../../src/domain/ingestion/incoming-event.js';
import { fromSegmentMessage } from '../../src/domain/ingestion/segment.js';
import { apiKeys } from './app.js';
import { acknowledged, graphqlAt, RECORD_EVENTS, retryable, segmentAt, type Answer } from './clients.js';

export type Door = 'segment' | 'graphql';

/** One ingestion request, sent again byte for byte on a retry: its events carry ids, so a retry stores nothing twice. */
export interface EventRequest {
  index: number;
  door: Door;
  /** The `/v1/batch` body, or the recordEvents variables. */
  payload: unknown;
  /** The ids the log stores its events under. */
  storedIds: string[];
}

export interface Attempt {
  request: number;
  door: Door;
  startedAt: number;
  endedAt: number;
  answer: Answer;
  acknowledged: boolean;
  retryable: boolean;
}

/**
 * Demo messages as ingestion requests of `size` events, alternating between the two doors: Segment
 * `/v1/batch` and GraphQL `recordEvents` (the same event, and the same stored id, either way).
 */
export function eventRequests(messages: readonly DemoMessage[], size: number, doors: readonly Door[] = ['segment', 'graphql']): EventRequest[] {
  const requests: EventRequest[] = [];
  for (let start = 0; start < messages.length; start += size) {
    const chunk = messages.slice(start, start + size);
    const index = requests.length;
    const door = doors[index % doors.length]!;
    const storedIds = chunk.map((message) => storedEventId(`segment:${message.messageId}`));
    const payload = door === 'segment' ? { batch: chunk } : { events: chunk.map(asEventInput) };
    requests.push({ index, door, payload, storedIds });
  }
  return requests;
}

/** A Segment message as a GraphQL `EventInput` (which has no `context`). */
export function asEventInput(message: DemoMessage): Record<string, unknown> {
  const event = fromSegmentMessage(message.type, message, { receivedAt: new Date().toISOString() });
  const input: Record<string, unknown> = { id: event.id, type: event.type, occurredAt: event.occurredAt, properties: event.properties, traits: event.traits };
  if (event.userId !== undefined) input.userId = event.userId;
  if (event.anonymousId !== undefined) input.anonymousId = event.anonymousId;
  if (event.channel !== undefined) input.channel = event.channel;
  return input;
}

export function send(baseUrl: string, request: EventRequest, key: string = apiKeys.ingest): Promise<Answer> {
  return request.door === 'segment' ? segmentAt(baseUrl, 'batch', request.payload, key) : graphqlAt(baseUrl, RECORD_EVENTS, request.payload as Record<string, unknown>, key);
}

export interface TrafficOptions {
  /** Where to send; read at each attempt, so that a restarted server on a new port takes over. */
  url: () => string;
  /** Requests started per second (0: as fast as `concurrency` allows). */
  rate: number;
  concurrency: number;
  /** Wait before retrying a request that got a retryable answer or no answer. */
  retryDelayMs?: number;
  /** Give up retrying after this long (the request then stays unacknowledged). */
  retryForMs?: number;
}

/**
 * A steady client of the ingestion API: requests start at a paced rate, each is retried with the
 * same body until acknowledged, and every attempt is recorded with its answer and its timing.
 */
export class Traffic {
  readonly attempts: Attempt[] = [];
  readonly acknowledged = new Set<number>();
  /** Requests that got an answer neither success nor retryable: the test fails on them. */
  readonly refused: Attempt[] = [];
  private readonly inFlight = new Set<number>();
  private stopped = false;
  private abandoned = false;
  private next = 0;
  private started = 0;
  done?: Promise<void>;

  constructor(
    readonly requests: readonly EventRequest[],
    private readonly options: TrafficOptions,
  ) {}

  start(): this {
    this.started = performance.now();
    this.done = Promise.all(Array.from({ length: this.options.concurrency }, () => this.worker())).then(() => undefined);
    return this;
  }

  /** No new request starts; those in flight finish (with their retries, unless `abandon`). */
  stop({ abandon = false } = {}): Promise<void> {
    this.stopped = true;
    this.abandoned ||= abandon;
    return this.done ?? Promise.resolve();
  }

  /** Requests started and not acknowledged (yet): in flight, or given up on. */
  unacknowledged(): number[] {
    return this.requests.slice(0, this.next).map((request) => request.index).filter((index) => !this.acknowledged.has(index));
  }

  inFlightNow(): number[] {
    return [...this.inFlight];
  }

  /** Stored ids of the requests acknowledged so far. */
  acknowledgedIds(): string[] {
    return [...this.acknowledged].flatMap((index) => this.requests[index]!.storedIds);
  }

  private async worker(): Promise<void> {
    while (!this.stopped && this.next < this.requests.length) {
      const request = this.requests[this.next++]!;
      if (this.options.rate > 0) {
        const due = this.started + (request.index / this.options.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      await this.deliver(request);
    }
  }

  /** Sends until acknowledged, refused, or out of retry time. */
  async deliver(request: EventRequest): Promise<Attempt | undefined> {
    const giveUpAt = performance.now() + (this.options.retryForMs ?? 60_000);
    this.inFlight.add(request.index);
    try {
      for (;;) {
        const startedAt = performance.now();
        const answer = await send(this.options.url(), request);
        const attempt: Attempt = {
          request: request.index,
          door: request.door,
          startedAt,
          endedAt: performance.now(),
          answer,
          acknowledged: acknowledged(answer),
          retryable: answer.networkError !== undefined || retryable(answer),
        };
        this.attempts.push(attempt);
        if (attempt.acknowledged) {
          this.acknowledged.add(request.index);
          return attempt;
        }
        if (!attempt.retryable) {
          this.refused.push(attempt);
          return attempt;
        }
        if (performance.now() > giveUpAt || this.abandoned) return attempt;
        await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs ?? 200));
      }
    } finally {
      this.inFlight.delete(request.index);
    }
  }
}
