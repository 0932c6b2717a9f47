import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type RecordedEvent,
} from '@eventstore/db-client';
import { ConcurrencyConflict, encodePosition, EventIdConflict, type NewEvent } from '../event-store.port.js';
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
  type AppendPlan,
} from './eventstoredb-mapping.js';

const orderCompleted: NewEvent = {
  id: '0b6a3c1e-5f4d-4e2a-9c8b-7d6e5f4a3b2c',
  type: 'OrderCompleted',
  data: { orderId: 'o-17', total: 129.5 },
  metadata: { occurredAt: '2025-03-01T10:00:00.000Z', schemaVersion: 1, correlationId: 'c-1' },
};

function recordedOrder(overrides: Partial<RecordedEvent> = {}): RecordedEvent {
  return {
    streamId: 'customer-42',
    id: orderCompleted.id,
    isJson: true,
    revision: 3n,
    type: orderCompleted.type,
    created: new Date('2025-03-01T10:00:01.234Z'),
    data: orderCompleted.data,
    metadata: orderCompleted.metadata,
    position: { commit: 5_000n, prepare: 4_990n },
    ...overrides,
  } as RecordedEvent;
}

function newEvent(id: string): NewEvent {
  return { ...orderCompleted, id };
}

describe('EventStoreDB mapping', () => {
  describe('expected revisions', () => {
    it('maps the stream conditions to the client constants', () => {
      expect(toClientExpectedRevision('any')).toBe(ANY);
      expect(toClientExpectedRevision('no_stream')).toBe(NO_STREAM);
      expect(toClientExpectedRevision('exists')).toBe(STREAM_EXISTS);
    });

    it('sends a revision number as the bigint the client expects', () => {
      expect(toClientExpectedRevision(0)).toBe(0n);
      expect(toClientExpectedRevision(41)).toBe(41n);
    });
  });

  describe('revisions', () => {
    it('keeps revisions 0-based both ways', () => {
      expect(toClientRevision(0)).toBe(0n);
      expect(fromClientRevision(0n)).toBe(0);
      expect(fromClientRevision(toClientRevision(1_234))).toBe(1_234);
    });
  });

  describe('positions', () => {
    it('encodes commit and prepare positions as the port position', () => {
      expect(fromClientPosition({ commit: 5_000n, prepare: 4_990n })).toBe(encodePosition(5_000, 4_990));
    });

    it('decodes a port position back to the same commit and prepare positions', () => {
      const position = { commit: 18_446_744_073_709_551_615n, prepare: 7n };
      expect(toClientPosition(fromClientPosition(position))).toEqual(position);
    });

    it('orders encoded positions as the log does: by commit, then prepare', () => {
      const positions = [
        { commit: 10n, prepare: 2n },
        { commit: 9n, prepare: 9n },
        { commit: 10n, prepare: 1n },
        { commit: 100n, prepare: 0n },
      ].map(fromClientPosition);
      expect([...positions].sort()).toEqual([
        encodePosition(9, 9),
        encodePosition(10, 1),
        encodePosition(10, 2),
        encodePosition(100, 0),
      ]);
    });

    it('refuses a string that is not a port position', () => {
      expect(() => toClientPosition('5000/4990')).toThrow('Not an event store position: 5000/4990');
    });
  });

  describe('new events', () => {
    it('writes a JSON event whose id is the idempotency key and whose metadata is ours', () => {
      expect(toEventData(orderCompleted)).toEqual({
        id: orderCompleted.id,
        contentType: 'application/json',
        type: 'OrderCompleted',
        data: orderCompleted.data,
        metadata: orderCompleted.metadata,
      });
    });
  });

  describe('recorded events', () => {
    it('reads a recorded event as a stored event recorded at its creation time', () => {
      expect(toStoredEvent(recordedOrder())).toEqual({
        id: orderCompleted.id,
        type: 'OrderCompleted',
        stream: 'customer-42',
        revision: 3,
        position: encodePosition(5_000, 4_990),
        data: orderCompleted.data,
        metadata: { ...orderCompleted.metadata, recordedAt: '2025-03-01T10:00:01.234Z' },
      });
    });

    it('takes recordedAt from the store, not from the producer', () => {
      const metadata = { ...orderCompleted.metadata, recordedAt: '1999-01-01T00:00:00.000Z' };
      expect(toStoredEvent(recordedOrder({ metadata })).metadata.recordedAt).toBe('2025-03-01T10:00:01.234Z');
    });

    it('refuses an event without a position, as servers before 22.6 send from stream reads', () => {
      expect(() => toStoredEvent(recordedOrder({ position: undefined }))).toThrow(/needs EventStoreDB 22\.6 or later/);
    });

    it('refuses an event whose data is not a JSON object', () => {
      const binary = recordedOrder({ isJson: false, data: new Uint8Array([1, 2, 3]) } as Partial<RecordedEvent>);
      expect(() => toStoredEvent(binary)).toThrow(`The data of event ${orderCompleted.id} in stream customer-42 is not a JSON object.`);
    });

    it('refuses an event whose metadata is not Trailmap event metadata', () => {
      expect(() => toStoredEvent(recordedOrder({ metadata: undefined }))).toThrow(/is not Trailmap event metadata/);
      expect(() => toStoredEvent(recordedOrder({ metadata: { occurredAt: 'yesterday' } }))).toThrow(/is not Trailmap event metadata/);
    });

    it('recognises EventStoreDB system events by their $ type', () => {
      expect(isSystemEvent({ type: '$statsCollected' })).toBe(true);
      expect(isSystemEvent({ type: '$metadata' })).toBe(true);
      expect(isSystemEvent({ type: 'OrderCompleted' })).toBe(false);
    });
  });

  describe('what an append writes', () => {
    const at = (revision: number) => ({ revision, position: encodePosition(1_000 + revision, 1_000 + revision) });
    const accepted = (plan: AppendPlan) => {
      if (plan.conflict) throw plan.conflict;
      return plan;
    };
    const summary = (plan: AppendPlan) => accepted(plan).events.map(({ event, duplicate, stored }) => [event.id, duplicate, stored?.revision]);

    it('writes the ids not in the stream and marks those in its latest events as duplicates', () => {
      const plan = planAppend('customer-1', [newEvent('a'), newEvent('b'), newEvent('c')], { window: new Map([['b', at(4)], ['z', at(5)]]) });
      expect(summary(plan)).toEqual([
        ['a', false, undefined],
        ['b', true, 4],
        ['c', false, undefined],
      ]);
      expect(accepted(plan).fresh.map(({ id }) => id)).toEqual(['a', 'c']);
    });

    it('stores an id repeated within one append once', () => {
      const plan = planAppend('customer-1', [newEvent('a'), newEvent('a')], { window: new Map() });
      expect(summary(plan)).toEqual([
        ['a', false, undefined],
        ['a', true, undefined],
      ]);
      expect(accepted(plan).fresh.map(({ id }) => id)).toEqual(['a']);
    });

    it('reports an id registered for the stream as a duplicate at its registered place, however old', () => {
      const registered = new Map([['a', { stream: 'customer-1', ...at(0) }]]);
      const plan = planAppend('customer-1', [newEvent('a'), newEvent('b')], { window: new Map(), registered });
      expect(summary(plan)).toEqual([
        ['a', true, 0],
        ['b', false, undefined],
      ]);
      expect(accepted(plan).events[0]!.stored).toEqual(at(0));
    });

    it('refuses the whole append when one id is registered for another stream', () => {
      const registered = new Map([['b', { stream: 'customer-2', ...at(7) }]]);
      const plan = planAppend('customer-1', [newEvent('a'), newEvent('b')], { window: new Map(), registered });
      expect(plan.conflict).toBeInstanceOf(EventIdConflict);
      expect(plan.conflict).toMatchObject({ eventId: 'b', stream: 'customer-1', existingStream: 'customer-2' });
    });

    it('lets the registry decide an id that a lost race also stored in this stream', () => {
      const registered = new Map([['a', { stream: 'customer-2', ...at(3) }]]);
      const plan = planAppend('customer-1', [newEvent('a')], { window: new Map([['a', at(0)]]), registered });
      expect(plan.conflict).toMatchObject({ eventId: 'a', stream: 'customer-1', existingStream: 'customer-2' });
    });

    it('asks to record an id found in the stream but not in the registry, once', () => {
      const registered = new Map([['a', { stream: 'customer-1', ...at(0) }]]);
      const window = new Map([['a', at(0)], ['b', at(1)]]);
      const plan = planAppend('customer-1', [newEvent('a'), newEvent('b'), newEvent('b'), newEvent('c')], { window, registered });
      expect(summary(plan)).toEqual([
        ['a', true, 0],
        ['b', true, 1],
        ['b', true, 1],
        ['c', false, undefined],
      ]);
      expect(accepted(plan).unregistered).toEqual([{ id: 'b', stream: 'customer-1', ...at(1) }]);
    });

    it('asks to record nothing without a registry', () => {
      const plan = planAppend('customer-1', [newEvent('a')], { window: new Map([['a', at(0)]]) });
      expect(accepted(plan).unregistered).toEqual([]);
    });

    it('refuses an appendMany that puts one event id in two streams', () => {
      const conflict = findEventIdConflict([
        { stream: 'customer-1', events: [newEvent('a')], expectedRevision: 'any' },
        { stream: 'customer-2', events: [newEvent('b'), newEvent('a')], expectedRevision: 'any' },
      ]);
      expect(conflict).toBeInstanceOf(EventIdConflict);
      expect(conflict).toMatchObject({ eventId: 'a', stream: 'customer-2', existingStream: 'customer-1' });
    });

    it('accepts an appendMany that repeats an id in the same stream', () => {
      const conflict = findEventIdConflict([
        { stream: 'customer-1', events: [newEvent('a')], expectedRevision: 'any' },
        { stream: 'customer-1', events: [newEvent('a')], expectedRevision: 'any' },
      ]);
      expect(conflict).toBeUndefined();
    });

    it('refuses an appendMany that puts a registered id in another stream, before anything is written', () => {
      const registered = new Map([['b', { stream: 'customer-9', ...at(0) }]]);
      const conflict = findEventIdConflict(
        [
          { stream: 'customer-1', events: [newEvent('a')], expectedRevision: 'any' },
          { stream: 'customer-2', events: [newEvent('b')], expectedRevision: 'any' },
        ],
        registered,
      );
      expect(conflict).toMatchObject({ eventId: 'b', stream: 'customer-2', existingStream: 'customer-9' });
    });

    it('accepts an appendMany that retries registered ids in their own streams', () => {
      const registered = new Map([['a', { stream: 'customer-1', ...at(0) }]]);
      const conflict = findEventIdConflict([{ stream: 'customer-1', events: [newEvent('a')], expectedRevision: 'any' }], registered);
      expect(conflict).toBeUndefined();
    });
  });

  describe('errors', () => {
    it('maps a wrong expected version to a ConcurrencyConflict carrying the actual revision', () => {
      const error = new WrongExpectedVersionError(undefined, { streamName: 'customer-42', expected: 2n, current: 4n });
      const conflict = toAppendError(error, 'customer-42', 2);
      expect(conflict).toBeInstanceOf(ConcurrencyConflict);
      expect(conflict).toMatchObject({ stream: 'customer-42', expected: 2, actual: 4 });
    });

    it('reports the actual revision of a missing stream as -1', () => {
      const error = new WrongExpectedVersionError(undefined, { streamName: 'customer-42', expected: STREAM_EXISTS, current: NO_STREAM });
      expect(toAppendError(error, 'customer-42', 'exists')).toMatchObject({ expected: 'exists', actual: -1 });
    });

    it('passes any other append error through unchanged', () => {
      const error = new Error('connection refused');
      expect(toAppendError(error, 'customer-42', 'any')).toBe(error);
    });

    it('recognises a read of a missing stream', () => {
      expect(isStreamNotFound(new StreamNotFoundError(undefined, 'customer-42'))).toBe(true);
      expect(isStreamNotFound(new Error('customer-42 not found'))).toBe(false);
    });
  });

  describe('resubscribing', () => {
    it('waits 100 ms after a first drop, doubling each time up to 5 s', () => {
      expect([0, 1, 2, 3, 4, 5, 6, 7, 50, 5_000].map(resubscribeDelay)).toEqual([
        100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000, 5_000,
      ]);
    });
  });

  describe('connection strings', () => {
    it('accepts the KurrentDB schemes by giving the client their esdb names', () => {
      expect(toEsdbConnectionString('kurrentdb://localhost:2113?tls=false')).toBe('esdb://localhost:2113?tls=false');
      expect(toEsdbConnectionString('kurrent://localhost:2113')).toBe('esdb://localhost:2113');
      expect(toEsdbConnectionString('kurrentdb+discover://cluster.local:2113')).toBe('esdb+discover://cluster.local:2113');
      expect(toEsdbConnectionString('esdb://localhost:2113?tls=false')).toBe('esdb://localhost:2113?tls=false');
    });
  });
});
