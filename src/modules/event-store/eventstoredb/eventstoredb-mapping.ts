/**
 * Pure translations between the event store port and the EventStoreDB client: revisions,
 * positions, events, errors, and what an append writes. No I/O here, so every rule is
 * unit-tested without a server.
 */
import {
  ANY,
  ErrorType,
  isCommandError,
  jsonEvent,
  NO_STREAM,
  STREAM_EXISTS,
  type AppendExpectedRevision,
  type EventData,
  type Position,
  type RecordedEvent,
} from '@eventstore/db-client';
import {
  ConcurrencyConflict,
  decodePosition,
  encodePosition,
  EventIdConflict,
  type AppendRequest,
  type EventMetadata,
  type ExpectedRevision,
  type NewEvent,
  type StoredEvent,
} from '../event-store.port.js';
import type { EventRegistration, RegisteredEvent } from './event-id-registry.js';

export function toClientExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'exists':
      return STREAM_EXISTS;
    default:
      return toClientRevision(expected);
  }
}

export function toClientRevision(revision: number): bigint {
  return BigInt(revision);
}

export function fromClientRevision(revision: bigint): number {
  return Number(revision);
}

export function fromClientPosition({ commit, prepare }: Position): string {
  return encodePosition(commit, prepare);
}

export function toClientPosition(position: string): Position {
  const [commit, prepare] = decodePosition(position);
  return { commit, prepare };
}

/** Our event id becomes the EventStoreDB event id, and our metadata its custom metadata. */
export function toEventData(event: NewEvent): EventData {
  return jsonEvent({ id: event.id, type: event.type, data: event.data, metadata: event.metadata });
}

/** Events whose type starts with `$` belong to EventStoreDB itself (stats, metadata, links). */
export function isSystemEvent(recorded: Pick<RecordedEvent, 'type'>): boolean {
  return recorded.type.startsWith('$');
}

export function toStoredEvent(recorded: RecordedEvent): StoredEvent {
  const where = `event ${recorded.id} in stream ${recorded.streamId}`;
  if (!recorded.position) throw new Error(`EventStoreDB sent no position for ${where}: Trailmap needs EventStoreDB 22.6 or later.`);
  if (!isJsonObject(recorded.data)) throw new Error(`The data of ${where} is not a JSON object.`);
  if (!isEventMetadata(recorded.metadata)) throw new Error(`The metadata of ${where} is not Trailmap event metadata.`);
  return {
    id: recorded.id,
    type: recorded.type,
    stream: recorded.streamId,
    revision: fromClientRevision(recorded.revision),
    position: fromClientPosition(recorded.position),
    data: recorded.data,
    metadata: { ...recorded.metadata, recordedAt: recorded.created.toISOString() },
  };
}

/** Where a stored event is in its stream and in the global order. */
export type EventLocation = Pick<StoredEvent, 'revision' | 'position'>;

export interface PlannedEvent {
  event: NewEvent;
  /** Already stored, or earlier in the same append: not written again. */
  duplicate: boolean;
  /** Where the duplicate is stored; absent for a new event and for a repeat of one within the append. */
  stored?: EventLocation;
}

export type AppendPlan =
  | { conflict: EventIdConflict }
  | {
      conflict?: undefined;
      events: PlannedEvent[];
      /** The events to write, in order. */
      fresh: NewEvent[];
      /** Ids found in the stream's latest events but not in the registry: written, then not recorded. */
      unregistered: EventRegistration[];
    };

/**
 * Decides what an append to `stream` writes. An id the registry holds for another stream refuses
 * the append; an id registered for this stream, in the stream's latest events (`window`), or
 * earlier in the same append is a duplicate; any other id is written. Without a registry
 * (`registered` absent) only the window and the append itself are known.
 */
export function planAppend(
  stream: string,
  events: NewEvent[],
  { window, registered }: { window: ReadonlyMap<string, EventLocation>; registered?: ReadonlyMap<string, RegisteredEvent> },
): AppendPlan {
  const planned: PlannedEvent[] = [];
  const fresh: NewEvent[] = [];
  const unregistered: EventRegistration[] = [];
  const seen = new Set<string>();
  for (const event of events) {
    const registration = registered?.get(event.id);
    if (registration && registration.stream !== stream) return { conflict: new EventIdConflict(event.id, stream, registration.stream) };
    const inWindow = window.get(event.id);
    const repeat = seen.has(event.id);
    seen.add(event.id);
    if (registered && !registration && inWindow && !repeat) unregistered.push({ id: event.id, stream, ...inWindow });
    const stored = registration ? { revision: registration.revision, position: registration.position } : inWindow;
    planned.push({ event, duplicate: Boolean(stored) || repeat, stored });
    if (!stored && !repeat) fresh.push(event);
  }
  return { events: planned, fresh, unregistered };
}

/**
 * An id used in two streams of one `appendMany` call, or appended to a stream other than the one
 * the registry holds it for (when given): the conflicts known before anything is written.
 */
export function findEventIdConflict(
  appends: AppendRequest[],
  registered: ReadonlyMap<string, RegisteredEvent> = new Map(),
): EventIdConflict | undefined {
  const streamOfId = new Map<string, string>();
  for (const { stream, events } of appends) {
    for (const { id } of events) {
      const existingStream = registered.get(id)?.stream ?? streamOfId.get(id) ?? stream;
      if (existingStream !== stream) return new EventIdConflict(id, stream, existingStream);
      streamOfId.set(id, stream);
    }
  }
  return undefined;
}

/** A wrong expected version becomes the port's ConcurrencyConflict; any other error passes unchanged. */
export function toAppendError(error: unknown, stream: string, expected: ExpectedRevision): unknown {
  if (error instanceof Error && isCommandError(error) && error.type === ErrorType.WRONG_EXPECTED_VERSION) {
    const actual = error.actualVersion === NO_STREAM ? -1 : fromClientRevision(error.actualVersion);
    return new ConcurrencyConflict(stream, expected, actual);
  }
  return error;
}

/** Reading a stream that was never written raises this while iterating. */
export function isStreamNotFound(error: unknown): boolean {
  return error instanceof Error && isCommandError(error) && error.type === ErrorType.STREAM_NOT_FOUND;
}

/** Wait before resubscribing after the `attempt`-th consecutive drop (0-based): 100 ms doubling up to 5 s. */
export function resubscribeDelay(attempt: number): number {
  return Math.min(100 * 2 ** attempt, 5_000);
}

/** The configuration accepts KurrentDB's scheme names; this client only parses the esdb ones. */
export function toEsdbConnectionString(connectionString: string): string {
  return connectionString.replace(/^kurrent(?:db)?(\+discover)?:\/\//i, 'esdb$1://');
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isEventMetadata(value: unknown): value is EventMetadata {
  return isJsonObject(value) && typeof value.occurredAt === 'string' && typeof value.schemaVersion === 'number';
}
