import { setTimeout as sleep } from 'node:timers/promises';
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  excludeSystemEvents,
  FORWARDS,
  START,
  streamNameFilter,
  type AllStreamRecordedEvent,
  type ReadRevision,
} from '@eventstore/db-client';
import type { Logger } from '../../logging/logger.js';
import { inBatches } from '../batches.js';
import {
  comparePositions,
  ConcurrencyConflict,
  type AppendRequest,
  type AppendResult,
  type Direction,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  type SubscribeOptions,
} from '../event-store.port.js';
import type { EventIdRegistry, EventRegistration } from './event-id-registry.js';
import {
  findEventIdConflict,
  fromClientPosition,
  fromClientRevision,
  isStreamNotFound,
  isSystemEvent,
  planAppend,
  resubscribeDelay,
  toAppendError,
  toClientExpectedRevision,
  toClientPosition,
  toClientRevision,
  toEsdbConnectionString,
  toEventData,
  toStoredEvent,
  type EventLocation,
} from './eventstoredb-mapping.js';

const STREAM_PAGE_SIZE = 500;
const ALL_PAGE_SIZE = 500;

export interface EventStoreDbOptions {
  /** How many of a stream's latest events an append searches for its event ids, in one read (default 500). */
  idempotencyWindow?: number;
  /** Where dropped subscriptions are reported. */
  logger?: Logger;
  /** The PostgreSQL index of stored event ids; without it, idempotency stops at the window and cross-stream ids go unnoticed. */
  registry?: EventIdRegistry;
}

/**
 * The event store port on EventStoreDB (KurrentDB). What holds here, and where it stops:
 *
 * - An append to one stream is atomic, and the server checks its expected revision.
 * - With a `registry` (PostgreSQL, `event_store_event_ids`), before writing, an append looks up its
 *   ids there: an id registered for another stream refuses the whole append with EventIdConflict
 *   and nothing is written; an id registered for this stream is a duplicate, reported at its
 *   registered revision and position however old it is. New ids are recorded only after
 *   EventStoreDB accepted the write, so every registered id is a stored one.
 * - The append also reads the stream's latest `idempotencyWindow` events: ids found there, or
 *   repeated within the append, are duplicates too. This covers ids written but not recorded (the
 *   process stopped after the write, or the record failed and the append threw although its events
 *   are stored); an append that finds such ids records them. An unrecorded id older than the window
 *   is written again, and can be written to another stream without EventIdConflict.
 * - Two appends of one id racing (both look before either records): to one stream, with a revision
 *   number or `no_stream` one fails as a ConcurrencyConflict and its retry finds the id; with `any`
 *   or `exists` the id may be stored twice. To two streams, both are stored; the registry keeps the
 *   first, and later appends of the id to the other stream fail with EventIdConflict.
 * - Without a registry, only the window and the append itself are checked, and an id stored in
 *   another stream goes unnoticed.
 * - `appendMany` has no multi-stream transaction: streams are appended in turn, a failure stops the
 *   rest, and the appends before it stay. An id in two of its streams, or registered for another
 *   stream than the one it is appended to, refuses the whole call before anything is written.
 * - Subscriptions resume by themselves from the last event yielded, backing off after each drop.
 */
export class EventStoreDbEventStore implements EventStore {
  private readonly client: EventStoreDBClient;
  private readonly ownsClient: boolean;
  private readonly idempotencyWindow: number;
  private readonly logger?: Logger;
  private readonly registry?: EventIdRegistry;

  constructor(connection: string | EventStoreDBClient, { idempotencyWindow = 500, logger, registry }: EventStoreDbOptions = {}) {
    this.ownsClient = typeof connection === 'string';
    this.client =
      typeof connection === 'string' ? EventStoreDBClient.connectionString(toEsdbConnectionString(connection)) : connection;
    this.idempotencyWindow = idempotencyWindow;
    this.logger = logger;
    this.registry = registry;
  }

  async append(stream: string, events: NewEvent[], { expectedRevision }: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    if (events.length === 0) throw new Error(`An append to stream ${stream} needs at least one event.`);
    const [registered, latest] = await Promise.all([this.registry?.find(events.map(({ id }) => id)), this.latestEvents(stream)]);
    const plan = planAppend(stream, events, { window: latest.locations, registered });
    if (plan.conflict) throw plan.conflict;
    // A retry whose events are all stored already succeeds whatever revision it expected, as on PostgreSQL.
    const written = plan.fresh.length > 0 ? await this.write(stream, plan.fresh, expectedRevision) : undefined;
    // Recorded after the write, never before: a recorded id that failed to write would make its retry a false duplicate.
    await this.registry?.record([...plan.unregistered, ...registrations(stream, written?.locations)]);
    const appended = plan.events.map(({ event, duplicate, stored }) => ({
      id: event.id,
      ...(stored ?? written!.locations.get(event.id)!),
      duplicate,
    }));
    return {
      stream,
      nextExpectedRevision: written?.nextExpectedRevision ?? latest.revision,
      position: appended.at(-1)!.position,
      events: appended,
    };
  }

  async appendMany(appends: AppendRequest[]): Promise<AppendResult[]> {
    const registered = await this.registry?.find(appends.flatMap(({ events }) => events.map(({ id }) => id)));
    const conflict = findEventIdConflict(appends, registered);
    if (conflict) throw conflict;
    const results: AppendResult[] = [];
    for (const { stream, events, expectedRevision } of appends) {
      results.push(await this.append(stream, events, { expectedRevision }));
    }
    return results;
  }

  async *readStream(
    stream: string,
    { from, limit = Infinity, direction = 'forward', pageSize = STREAM_PAGE_SIZE }: ReadStreamOptions = {},
  ): AsyncGenerator<StoredEvent> {
    const forwards = direction === 'forward';
    let fromRevision: ReadRevision = from === undefined ? (forwards ? START : END) : toClientRevision(from);
    let remaining = limit;
    while (remaining > 0) {
      const maxCount = Math.min(pageSize, remaining);
      let received = 0;
      let last: StoredEvent | undefined;
      try {
        const page = this.client.readStream(stream, { fromRevision, direction: forwards ? FORWARDS : BACKWARDS, maxCount });
        for await (const { event } of page) {
          received += 1;
          if (!event) continue;
          last = toStoredEvent(event);
          yield last;
        }
      } catch (error) {
        if (isStreamNotFound(error)) return;
        throw error;
      }
      remaining -= received;
      if (!last || received < maxCount || (!forwards && last.revision === 0)) return;
      fromRevision = toClientRevision(forwards ? last.revision + 1 : last.revision - 1);
    }
  }

  async readEvents(refs: readonly { stream: string; revision: number }[]): Promise<StoredEvent[]> {
    const found = await Promise.all(
      refs.map(async ({ stream, revision }) => {
        for await (const event of this.readStream(stream, { from: revision, limit: 1 })) return event.revision === revision ? event : undefined;
        return undefined;
      }),
    );
    return found.filter((event): event is StoredEvent => event !== undefined);
  }

  async readAll({ after, limit = Infinity, streamPrefix }: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    if (limit <= 0) return events;
    // This client reads $all without a server-side filter, so the prefix is checked here.
    for await (const recorded of this.globalOrder('forward', after)) {
      if (streamPrefix !== undefined && !recorded.streamId.startsWith(streamPrefix)) continue;
      events.push(toStoredEvent(recorded));
      if (events.length >= limit) break;
    }
    return events;
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterable<StoredEvent[]> {
    // The client pushes events one by one: what has arrived by the next turn of the event loop is a page.
    return inBatches(this.subscribeEvents(options), ALL_PAGE_SIZE);
  }

  private async *subscribeEvents({ after, streamPrefix, signal }: SubscribeOptions): AsyncGenerator<StoredEvent> {
    let last = after;
    let drops = 0;
    while (!signal?.aborted) {
      try {
        for await (const event of this.subscribeOnce(last, streamPrefix, signal)) {
          drops = 0;
          // A subscription may start at the position it is given: that event was already yielded.
          if (last !== undefined && comparePositions(event.position, last) <= 0) continue;
          last = event.position;
          yield event;
        }
      } catch (error) {
        if (signal?.aborted) return;
        this.logger?.warn({ err: error, after: last, drops }, 'EventStoreDB subscription dropped; resubscribing');
      }
      if (signal?.aborted) return;
      await pause(resubscribeDelay(drops), signal);
      drops += 1;
    }
  }

  async headPosition(): Promise<string | undefined> {
    for await (const recorded of this.globalOrder('backward')) return fromClientPosition(recorded.position);
    return undefined;
  }

  async countAfter(position: string | undefined, cap = 10_000): Promise<number> {
    let count = 0;
    if (cap <= 0) return count;
    for await (const _ of this.globalOrder('forward', position)) {
      count += 1;
      if (count >= cap) break;
    }
    return count;
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.dispose();
  }

  /** The ids and locations of the stream's latest events, and its current revision (-1 when it does not exist). */
  private async latestEvents(stream: string): Promise<{ revision: number; locations: Map<string, EventLocation> }> {
    const locations = new Map<string, EventLocation>();
    let revision = -1;
    for await (const event of this.readStream(stream, {
      direction: 'backward',
      limit: this.idempotencyWindow,
      pageSize: this.idempotencyWindow,
    })) {
      revision = Math.max(revision, event.revision);
      locations.set(event.id, { revision: event.revision, position: event.position });
    }
    return { revision, locations };
  }

  private async write(
    stream: string,
    fresh: NewEvent[],
    expectedRevision: ExpectedRevision,
  ): Promise<{ nextExpectedRevision: number; locations: Map<string, EventLocation> }> {
    const result = await this.client
      .appendToStream(stream, fresh.map(toEventData), { expectedRevision: toClientExpectedRevision(expectedRevision) })
      .catch((error: unknown) => {
        throw toAppendError(error, stream, expectedRevision);
      });
    const nextExpectedRevision = fromClientRevision(result.nextExpectedRevision);
    // Only a client built with `throwOnAppendFailure: false` reports a failed append instead of throwing.
    if (!result.success) throw new ConcurrencyConflict(stream, expectedRevision, nextExpectedRevision);
    if (fresh.length === 1 && result.position) {
      const location = { revision: nextExpectedRevision, position: fromClientPosition(result.position) };
      return { nextExpectedRevision, locations: new Map([[fresh[0].id, location]]) };
    }
    // A write of several events reports one position; each event's own is known only by reading it back.
    const locations = new Map<string, EventLocation>();
    const first = nextExpectedRevision - fresh.length + 1;
    for await (const event of this.readStream(stream, { from: first, limit: fresh.length })) {
      locations.set(event.id, { revision: event.revision, position: event.position });
    }
    return { nextExpectedRevision, locations };
  }

  /** The non-system events of $all strictly after (forward) or before (backward) a position, page by page. */
  private async *globalOrder(direction: Direction, from?: string): AsyncGenerator<AllStreamRecordedEvent> {
    const forwards = direction === 'forward';
    let cursor = from;
    for (;;) {
      const page = this.client.readAll({
        fromPosition: cursor === undefined ? (forwards ? START : END) : toClientPosition(cursor),
        direction: forwards ? FORWARDS : BACKWARDS,
        maxCount: ALL_PAGE_SIZE,
      });
      let received = 0;
      for await (const { event } of page) {
        received += 1;
        if (!event) continue;
        const position = fromClientPosition(event.position);
        // A page may include the event at its starting position, which was already passed.
        const beyond = cursor === undefined || (forwards ? comparePositions(position, cursor) > 0 : comparePositions(position, cursor) < 0);
        if (!beyond) continue;
        cursor = position;
        if (!isSystemEvent(event)) yield event;
      }
      if (received < ALL_PAGE_SIZE) return;
    }
  }

  /** One server-side subscription to $all after a position: throws when it drops, ends on `signal`. */
  private async *subscribeOnce(
    after: string | undefined,
    streamPrefix: string | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<StoredEvent> {
    const subscription = this.client.subscribeToAll({
      fromPosition: after === undefined ? START : toClientPosition(after),
      filter: streamPrefix === undefined ? excludeSystemEvents() : streamNameFilter({ prefixes: [streamPrefix] }),
    });
    const unsubscribe = () => void subscription.unsubscribe();
    signal?.addEventListener('abort', unsubscribe, { once: true });
    try {
      for await (const { event } of subscription) {
        if (signal?.aborted) return;
        if (event && !isSystemEvent(event)) yield toStoredEvent(event);
      }
    } finally {
      signal?.removeEventListener('abort', unsubscribe);
      await subscription.unsubscribe();
    }
  }
}

function registrations(stream: string, locations: Map<string, EventLocation> = new Map()): EventRegistration[] {
  return [...locations].map(([id, location]) => ({ id, stream, ...location }));
}

/** Waits, unless `signal` aborts first. */
async function pause(milliseconds: number, signal?: AbortSignal): Promise<void> {
  await sleep(milliseconds, undefined, { signal }).catch(() => undefined);
}
