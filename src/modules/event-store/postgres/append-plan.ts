import type { AppendRequest, ExpectedRevision, NewEvent } from '../event-store.port.js';

/**
 * Appends that must succeed or fail together: one `appendMany` call, or one `append`.
 * Group commit puts several units in one transaction; a failing unit does not stop the others.
 */
export type AppendUnit = AppendRequest[];

export interface ExistingEvent {
  id: string;
  stream: string;
  revision: number;
}

export type UnitOutcome =
  | { status: 'ok'; appends: PlannedAppend[] }
  | { status: 'conflict'; stream: string; expected: ExpectedRevision; actual: number }
  | { status: 'id_conflict'; eventId: string; stream: string; existingStream: string };

export interface PlannedAppend {
  stream: string;
  /** Revision of the stream's last event once the append is done. */
  nextExpectedRevision: number;
  events: PlannedEvent[];
}

export interface PlannedEvent {
  event: NewEvent;
  revision: number;
  /** Already in the stream: not inserted again. */
  duplicate: boolean;
}

export interface AppendPlan {
  outcomes: UnitOutcome[];
  /** New events to insert, in append order (their global order). */
  inserts: { stream: string; revision: number; event: NewEvent }[];
  /** Final revision of every stream that receives events. */
  streamRevisions: Map<string, number>;
}

/**
 * Decides, under the streams' row locks, what a group of units stores: expected revisions are
 * checked against the running revision of each stream (an earlier unit's append counts), event
 * ids already stored in the same stream are duplicates, and ids stored in another stream fail
 * their unit.
 */
export function planAppends(
  units: AppendUnit[],
  currentRevisions: ReadonlyMap<string, number>,
  existingEvents: ReadonlyMap<string, ExistingEvent>,
): AppendPlan {
  const running = new Map(currentRevisions);
  const known = new Map(existingEvents); // grows with the ids this group inserts
  const plan: AppendPlan = { outcomes: [], inserts: [], streamRevisions: new Map() };

  for (const unit of units) {
    const revisions = new Map<string, number>();
    const unitKnown = new Map<string, ExistingEvent>();
    const appends: PlannedAppend[] = [];
    const unitInserts: AppendPlan['inserts'] = [];
    let failure: UnitOutcome | undefined;

    for (const { stream, events, expectedRevision } of unit) {
      let revision = revisions.get(stream) ?? running.get(stream) ?? -1;
      const earlier = (id: string) => unitKnown.get(id) ?? known.get(id);
      const elsewhere = events.find((event) => earlier(event.id) && earlier(event.id)!.stream !== stream);
      if (elsewhere) {
        failure = { status: 'id_conflict', eventId: elsewhere.id, stream, existingStream: earlier(elsewhere.id)!.stream };
        break;
      }
      // A retry whose events are all stored already succeeds whatever revision it expected.
      if (events.some((event) => !earlier(event.id)) && !matches(expectedRevision, revision)) {
        failure = { status: 'conflict', stream, expected: expectedRevision, actual: revision };
        break;
      }
      const planned: PlannedEvent[] = [];
      for (const event of events) {
        const stored = earlier(event.id);
        if (stored) {
          planned.push({ event, revision: stored.revision, duplicate: true });
          continue;
        }
        revision += 1;
        planned.push({ event, revision, duplicate: false });
        unitInserts.push({ stream, revision, event });
        unitKnown.set(event.id, { id: event.id, stream, revision });
      }
      revisions.set(stream, revision);
      appends.push({ stream, nextExpectedRevision: revision, events: planned });
    }

    if (failure) {
      plan.outcomes.push(failure);
      continue;
    }
    for (const [stream, revision] of revisions) running.set(stream, revision);
    for (const [id, event] of unitKnown) known.set(id, event);
    plan.inserts.push(...unitInserts);
    plan.outcomes.push({ status: 'ok', appends });
  }

  for (const insert of plan.inserts) plan.streamRevisions.set(insert.stream, running.get(insert.stream)!);
  return plan;
}

function matches(expected: ExpectedRevision, actual: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return actual === -1;
    case 'exists':
      return actual >= 0;
    default:
      return expected === actual;
  }
}
