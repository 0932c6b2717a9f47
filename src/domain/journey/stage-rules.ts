import type { EventCategory } from '../catalog/index.js';
import type { JourneyStage } from '../customer-event.js';

/** The stages a customer moves forward through; DORMANT sits outside this order. */
export type LifecycleStage = Exclude<JourneyStage, 'DORMANT'>;

export const lifecycle: readonly LifecycleStage[] = [
  'DISCOVERY',
  'ENGAGEMENT',
  'CONVERSION',
  'POST_PURCHASE',
  'RETENTION',
];

/** The journey's rules as data; `journey.ts` applies them. */
export const stageRules = {
  /** The stage an event of each category implies; IDENTITY and SYSTEM imply none. */
  stageOfCategory: {
    DISCOVERY: 'DISCOVERY',
    ENGAGEMENT: 'ENGAGEMENT',
    CONVERSION: 'CONVERSION',
    POST_PURCHASE: 'POST_PURCHASE',
    RETENTION: 'RETENTION',
    IDENTITY: null,
    SYSTEM: null,
  } as const satisfies Readonly<Record<EventCategory, LifecycleStage | null>>,
  /** Where a new customer starts when their first event implies no stage. */
  firstStage: 'DISCOVERY' as LifecycleStage,
  /** The customer's second completed order moves them here, whatever stage they are in. */
  repeatOrder: { eventType: 'Order Completed', completedOrders: 2, stage: 'RETENTION' as LifecycleStage },
  /** Written by the scheduler after a period without activity. */
  dormancy: { eventType: 'Customer Went Dormant', stage: 'DORMANT' as JourneyStage },
  /** Events that never move the stage. */
  unmoving: ['Cart Abandoned', 'Customer Forgotten'] as readonly string[],
  /** A cart is open from a product added until a checkout starts or an order completes. */
  cart: {
    openedBy: ['Product Added'] as readonly string[],
    closedBy: ['Checkout Started', 'Order Completed'] as readonly string[],
    abandonedEventType: 'Cart Abandoned',
  },
} as const;

/** Categories whose events are the customer's own activity (system events are the scheduler's or an operator's). */
export function isActivity(category: EventCategory): boolean {
  return category !== 'SYSTEM';
}

/** Lifecycle order for moving forward; DORMANT ranks below everything (a merge prefers any lifecycle stage to it). */
export function stageRank(stage: JourneyStage): number {
  return stage === 'DORMANT' ? -1 : lifecycle.indexOf(stage);
}
