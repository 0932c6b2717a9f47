import type { EventCategory } from './catalog/index.js';

export type JsonObject = Record<string, unknown>;

/** Where a customer stands in the journey; the first five are the lifecycle, in order. */
export const journeyStages = ['DISCOVERY', 'ENGAGEMENT', 'CONVERSION', 'POST_PURCHASE', 'RETENTION', 'DORMANT'] as const;
export type JourneyStage = (typeof journeyStages)[number];

/**
 * A customer event as projections see it: read from the customer's stream, with its category
 * from the catalog and its personal data merged back in while the customer's key exists.
 */
export interface CustomerEvent {
  id: string;
  type: string;
  category: EventCategory;
  /** The customer whose stream holds the event (`anon:<anonymousId>` before sign-in). */
  customerId: string;
  /** Position in the customer's stream, from 0. */
  revision: number;
  /** Position in the global order (opaque, compares as a string). */
  position: string;
  /** When it happened, as the producer says (ISO 8601, UTC). */
  occurredAt: string;
  /** When the store took it (ISO 8601, UTC). */
  recordedAt: string;
  userId?: string;
  anonymousId?: string;
  channel?: string;
  properties: JsonObject;
  traits: JsonObject;
  context: JsonObject;
  /** False once the customer's key is destroyed: the personal values are gone for good. */
  personalDataReadable: boolean;
  /** True when the event has personal values that the reader was not given (not allowed, or not asked). */
  personalDataWithheld?: boolean;
}
