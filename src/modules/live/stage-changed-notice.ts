import type { JourneyStage } from '../../domain/customer-event.js';

/** PostgreSQL refuses a NOTIFY payload of this many bytes or more (its default build). */
export const NOTIFY_PAYLOAD_LIMIT = 8_000;

/** A committed stage transition, as the journey projection announces it. */
export interface StageChange {
  customerId: string;
  from: JourneyStage | null;
  to: JourneyStage;
  at: string;
  eventType: string;
  eventId: string;
}

/** What a listener reads back by id when the transition itself did not fit in the payload. */
export interface StageChangeReference {
  customerId: string;
  eventId: string;
}

/**
 * The payload announcing a transition: the transition itself, or only its key in
 * `journey_transitions` when it would not fit (the key always does: ids are at most 256 characters).
 */
export function stageChangedNotice(change: StageChange): string {
  const { customerId, from, to, at, eventType, eventId } = change;
  const full = JSON.stringify({ customerId, from, to, at, eventType, eventId });
  return Buffer.byteLength(full, 'utf8') < NOTIFY_PAYLOAD_LIMIT ? full : JSON.stringify({ customerId, eventId });
}

/** A notice read back: the transition, a reference to fetch, or null when the payload is neither. */
export function readStageChangedNotice(payload: string): { change: StageChange } | { reference: StageChangeReference } | null {
  let notice: Partial<Record<keyof StageChange, unknown>>;
  try {
    notice = JSON.parse(payload) as typeof notice;
  } catch {
    return null;
  }
  if (typeof notice !== 'object' || notice === null || typeof notice.customerId !== 'string' || typeof notice.eventId !== 'string') return null;
  if (typeof notice.to !== 'string') return { reference: { customerId: notice.customerId, eventId: notice.eventId } };
  return { change: notice as StageChange };
}
