/**
 * The event store port: the log that is the truth of Trailmap. Everything appends to it and
 * reads from it through this interface; PostgreSQL and EventStoreDB implement it alike and pass
 * the same contract suite (test/event-store/contract.ts).
 */

/** Metadata as the producer gives it. */
export interface EventMetadata {
  /** When the event happened, as the producer says (ISO 8601). */
  occurredAt: string;
  correlationId?: string;
  causationId?: string;
  /** Version of the event type's schema in the catalog. */
  schemaVersion: number;
  [key: string]: unknown;
}

export interface NewEvent {
  /** A UUID; the idempotency key of the event. */
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
}

export interface StoredEvent {
  id: string;
  type: string;
  stream: string;
  /** 0-based position of the event in its stream. */
  revision: number;
  /** Opaque position in the global order; positions compare as strings in log order. */
  position: string;
  data: Record<string, unknown>;
  /** The producer's metadata plus `recordedAt`, when the store took the event (ISO 8601). */
  metadata: EventMetadata & { recordedAt: string };
}

/** A revision number (0-based), or a condition on the stream's existence. */
export type ExpectedRevision = number | 'no_stream' | 'exists' | 'any';

export interface AppendRequest {
  stream: string;
  events: NewEvent[];
  expectedRevision: ExpectedRevision;
}

export interface AppendedEvent {
  id: string;
  revision: number;
  position: string;
  /** True when an event with this id was already in the stream: nothing was stored for it. */
  duplicate: boolean;
}

export interface AppendResult {
  stream: string;
  /** Revision of the stream's last event after the append: the expected revision for the next one. */
  nextExpectedRevision: number;
  /** Global position of the last event of the append (new or duplicate). */
  position: string;
  events: AppendedEvent[];
}

export type Direction = 'forward' | 'backward';

export interface ReadStreamOptions {
  /** First revision to read (inclusive); defaults to the start (forward) or the end (backward). */
  from?: number;
  /** Most events to read in all; unlimited when absent. */
  limit?: number;
  direction?: Direction;
  /** Events fetched per round trip; memory stays bounded by it whatever the stream's length. */
  pageSize?: number;
}

export interface ReadAllOptions {
  /** Exclusive: read events after this position; from the start when absent. */
  after?: string;
  limit?: number;
  /** Only streams whose name starts with this prefix, e.g. `customer-`. */
  streamPrefix?: string;
}

export interface SubscribeOptions {
  after?: string;
  streamPrefix?: string;
  /** Ends the subscription (the iterator completes). */
  signal?: AbortSignal;
  /**
   * Once caught up, reads the log again no sooner than this long after the last read, so that a
   * busy log is read in fewer, larger pages (a store that pushes events may ignore it).
   */
  coalesceMs?: number;
}

export interface EventStore {
  /** Appends to one stream, all or nothing. Throws ConcurrencyConflict or EventIdConflict. */
  append(stream: string, events: NewEvent[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult>;
  /**
   * Appends to several streams. PostgreSQL: in one transaction, all or nothing. EventStoreDB has
   * no multi-stream transactions: each stream is appended in turn and a failure stops the rest.
   */
  appendMany(appends: AppendRequest[]): Promise<AppendResult[]>;
  /** Reads one stream page by page; a missing stream reads as empty. */
  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<StoredEvent>;
  /** Particular events by stream and revision, in the order asked; those that do not exist are left out. */
  readEvents(refs: readonly { stream: string; revision: number }[]): Promise<StoredEvent[]>;
  /** One page of the global order, for projections. Never skips an event that commits late. */
  readAll(options?: ReadAllOptions): Promise<StoredEvent[]>;
  /**
   * Catch-up then live, in pages as the store has them (never empty, in log order: a reader with a page
   * to apply needs no turn of the event loop per event); resumes by itself after a dropped connection;
   * ends on `signal`.
   */
  subscribe(options?: SubscribeOptions): AsyncIterable<StoredEvent[]>;
  /** Position of the last event in the global order, undefined for an empty log. */
  headPosition(): Promise<string | undefined>;
  /** Number of events after a position (all when undefined), counted up to `cap`, for lag figures. */
  countAfter(position: string | undefined, cap?: number): Promise<number>;
  close(): Promise<void>;
}

/** The stream's revision did not match the expected one; re-read and retry, never overwrite. */
export class ConcurrencyConflict extends Error {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** The stream's current revision, -1 when it does not exist. */
    readonly actual: number,
  ) {
    super(`Concurrency conflict on stream ${stream}: expected revision ${String(expected)}, actual ${actual}.`);
    this.name = 'ConcurrencyConflict';
  }
}

/** An event id is an idempotency key of one stream: the same id in another stream is refused. */
export class EventIdConflict extends Error {
  constructor(
    readonly eventId: string,
    readonly stream: string,
    readonly existingStream: string,
  ) {
    super(`Event id ${eventId} cannot be appended to ${stream}: it is already in stream ${existingStream}.`);
    this.name = 'EventIdConflict';
  }
}

/** Positions are two unsigned 64-bit numbers, zero-padded so that string order is log order. */
export function encodePosition(major: bigint | number | string, minor: bigint | number | string): string {
  return `${digits(major)}/${digits(minor)}`;
}

/** Twenty digits; PostgreSQL's text of an xid8 or a bigint is already plain digits (the usual case, once per event read). */
function digits(value: bigint | number | string): string {
  return (typeof value === 'string' && /^\d{1,20}$/.test(value) ? value : BigInt(value).toString()).padStart(20, '0');
}

export function decodePosition(position: string): [bigint, bigint] {
  const match = /^(\d{20})\/(\d{20})$/.exec(position);
  if (!match) throw new Error(`Not an event store position: ${position}`);
  return [BigInt(match[1]!), BigInt(match[2]!)];
}

export function comparePositions(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
