import type { AppendRequest, NewEvent } from '../event-store.port.js';
import { planAppends, type ExistingEvent } from './append-plan.js';

let next = 0;
const event = (): NewEvent => ({
  id: `00000000-0000-4000-8000-${String(next++).padStart(12, '0')}`,
  type: 'Page Viewed',
  data: {},
  metadata: { occurredAt: '2026-11-20T10:00:00.000Z', schemaVersion: 1 },
});
const append = (stream: string, events: NewEvent[], expectedRevision: AppendRequest['expectedRevision'] = 'any'): AppendRequest => ({
  stream,
  events,
  expectedRevision,
});

describe('planning a group of appends', () => {
  it('chains revisions of units that append to the same stream', () => {
    const [a, b] = [event(), event()];
    const plan = planAppends([[append('s', [a])], [append('s', [b], 3)]], new Map([['s', 2]]), new Map());
    expect(plan.outcomes.map((outcome) => outcome.status)).toEqual(['ok', 'ok']);
    expect(plan.inserts.map((insert) => [insert.event.id, insert.revision])).toEqual([
      [a.id, 3],
      [b.id, 4],
    ]);
    expect(plan.streamRevisions.get('s')).toBe(4);
  });

  it('fails a unit whose expected revision was overtaken by an earlier unit of the group, and only that unit', () => {
    const plan = planAppends([[append('s', [event()], 0)], [append('s', [event()], 0)], [append('t', [event()], 'no_stream')]], new Map([['s', 0]]), new Map());
    expect(plan.outcomes).toEqual([
      expect.objectContaining({ status: 'ok' }),
      { status: 'conflict', stream: 's', expected: 0, actual: 1 },
      expect.objectContaining({ status: 'ok' }),
    ]);
    expect(plan.inserts.map((insert) => [insert.stream, insert.revision])).toEqual([
      ['s', 1],
      ['t', 0],
    ]);
  });

  it('fails a whole multi-stream unit when one of its appends conflicts', () => {
    const plan = planAppends([[append('a', [event()]), append('b', [event()], 'exists')]], new Map(), new Map());
    expect(plan.outcomes).toEqual([{ status: 'conflict', stream: 'b', expected: 'exists', actual: -1 }]);
    expect(plan.inserts).toEqual([]);
    expect(plan.streamRevisions.size).toBe(0);
  });

  it('reports stored ids of the same stream as duplicates and accepts a full retry whatever it expected', () => {
    const stored = event();
    const existing = new Map<string, ExistingEvent>([[stored.id, { id: stored.id, stream: 's', revision: 4 }]]);
    const plan = planAppends([[append('s', [stored], 'no_stream')]], new Map([['s', 9]]), existing);
    expect(plan.outcomes).toEqual([
      { status: 'ok', appends: [{ stream: 's', nextExpectedRevision: 9, events: [{ event: stored, revision: 4, duplicate: true }] }] },
    ]);
    expect(plan.inserts).toEqual([]);
  });

  it('refuses an id stored in another stream, or appended to another stream earlier in the group', () => {
    const shared = event();
    const stored = planAppends([[append('t', [shared])]], new Map(), new Map([[shared.id, { id: shared.id, stream: 's', revision: 0 }]]));
    expect(stored.outcomes).toEqual([{ status: 'id_conflict', eventId: shared.id, stream: 't', existingStream: 's' }]);
    const grouped = planAppends([[append('s', [shared])], [append('t', [shared])]], new Map(), new Map());
    expect(grouped.outcomes[1]).toEqual({ status: 'id_conflict', eventId: shared.id, stream: 't', existingStream: 's' });
  });

  it('stores an id repeated within one append once', () => {
    const repeated = event();
    const plan = planAppends([[append('s', [repeated, repeated])]], new Map(), new Map());
    expect(plan.inserts).toHaveLength(1);
    expect(plan.outcomes[0]).toMatchObject({ status: 'ok', appends: [{ events: [{ revision: 0, duplicate: false }, { revision: 0, duplicate: true }] }] });
  });
});
