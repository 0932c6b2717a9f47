import type { CustomerEvent, JourneyStage, JsonObject } from '../customer-event.js';
import {
  alreadyApplied,
  coversRevisions,
  sortedRevisions,
  unionOfRevisions,
  withApplied,
  type StoredRevisions,
} from '../projection/applied-revisions.js';
import { assertLinks } from '../profile/customer-profile.js';
import { isAfter, laterOf, millisOf, secondsBetween } from '../projection/instants.js';
import { isActivity, stageRank, stageRules } from './stage-rules.js';

/** The open cart, as far as the abandonment scheduler needs it. */
export interface CartState {
  /** Latest `Product Added` (by occurredAt). */
  lastProductAddedAt: string | null;
  /** Latest `Checkout Started` or `Order Completed`; a cart is open while its last product was added after this. */
  lastCheckoutAt: string | null;
  /** The `lastProductAddedAt` that the latest recorded `Cart Abandoned` covers. */
  abandonmentRecordedFor: string | null;
}

/** One customer's place in the journey, as stored (jsonb): plain JSON in a canonical key order. */
export interface JourneyState {
  customerId: string;
  stage: JourneyStage;
  enteredAt: string;
  completedOrders: number;
  /** Latest occurredAt of the customer's own activity (every event but system ones). */
  lastActivityAt: string | null;
  /** The last activity that the latest recorded `Customer Went Dormant` covers. */
  dormancyRecordedFor: string | null;
  cart: CartState;
  /** The highest revision applied from each source stream (the own one and the linked anonymous ones); a state stored before these were pairs holds an object. */
  appliedRevisions: StoredRevisions;
  /** Set on an anonymous customer's state once it has been merged into this user's. */
  mergedInto?: string;
}

export interface StageTransition {
  customerId: string;
  from: JourneyStage | null;
  to: JourneyStage;
  at: string;
  /** The event type that caused the move. */
  eventType: string;
  /** null for the first stage; never negative (a late event may have happened before the stage it ends). */
  secondsInPreviousStage: number | null;
}

export interface JourneyStep {
  state: JourneyState;
  transition?: StageTransition;
}

/**
 * The journey once `event` is applied, and the stage transition it causes, if any. The event may come
 * from the customer's own stream or a linked anonymous one; an event already applied changes nothing.
 */
export function evolveJourney(state: JourneyState | null, event: CustomerEvent): JourneyStep {
  if (state !== null && alreadyApplied(state.appliedRevisions, event)) return { state };

  const facts = trackedFacts(state, event);
  if (state === null) {
    const stage = firstStageOf(event);
    const started = canonicalJourney({ customerId: event.customerId, stage, enteredAt: event.occurredAt, ...facts });
    return { state: started, transition: transitionOf(null, started, event) };
  }

  const stage = nextStageOf(state, event, facts.completedOrders);
  if (stage === null || stage === state.stage) return { state: canonicalJourney({ ...state, ...facts }) };
  const moved = canonicalJourney({ ...state, ...facts, stage, enteredAt: event.occurredAt });
  return { state: moved, transition: transitionOf(state, moved, event) };
}

/**
 * The user's journey with an anonymous visitor's merged in, on the `Identity Linked` event that links
 * them (applied here too, once): the later lifecycle stage of the two wins (DORMANT below all), orders add
 * up. A state already merged (marked `mergedInto`, or whose every event the user's has applied) changes
 * nothing. The transition, if any, is the link's: from the user's stage before it (the visitor's, for a user
 * with no journey yet: theirs continues) to the merged stage.
 */
export function mergeJourneys(
  user: JourneyState | null,
  anonymous: JourneyState | null,
  link: CustomerEvent,
): JourneyStep {
  if (anonymous !== null) assertLinks(link, anonymous.customerId);
  const withLink = evolveJourney(user, link);
  const before = withLink.state;
  if (
    anonymous === null ||
    anonymous.mergedInto !== undefined ||
    coversRevisions(before.appliedRevisions, anonymous.appliedRevisions)
  ) {
    return withLink;
  }

  // A user with no journey of their own continues the visitor's: its stage, its time in it, no new move.
  const continued = user === null ? anonymous : before;
  const stage = stageRank(anonymous.stage) > stageRank(before.stage) ? anonymous.stage : before.stage;
  const merged = canonicalJourney({
    ...before,
    stage,
    enteredAt: stage === continued.stage ? continued.enteredAt : link.occurredAt,
    completedOrders: before.completedOrders + anonymous.completedOrders,
    lastActivityAt: laterOf(before.lastActivityAt, anonymous.lastActivityAt),
    dormancyRecordedFor: laterOf(before.dormancyRecordedFor, anonymous.dormancyRecordedFor),
    cart: {
      lastProductAddedAt: laterOf(before.cart.lastProductAddedAt, anonymous.cart.lastProductAddedAt),
      lastCheckoutAt: laterOf(before.cart.lastCheckoutAt, anonymous.cart.lastCheckoutAt),
      abandonmentRecordedFor: laterOf(before.cart.abandonmentRecordedFor, anonymous.cart.abandonmentRecordedFor),
    },
    appliedRevisions: unionOfRevisions(before.appliedRevisions, anonymous.appliedRevisions),
  });
  if (merged.stage === continued.stage) return { state: merged };
  return { state: merged, transition: transitionOf(continued, merged, link) };
}

/** The anonymous state once merged into `userId`'s: store it so a later link merges nothing again. */
export function markJourneyMerged(anonymous: JourneyState, userId: string): JourneyState {
  return canonicalJourney({ ...anonymous, mergedInto: userId });
}

/**
 * Whether the scheduler should record `Customer Went Dormant` now: the last activity is older than
 * `dormantAfterMs`, the customer is not DORMANT, and no dormancy was recorded since that activity.
 */
export function dueForDormancy(state: JourneyState | null, now: string, dormantAfterMs: number): boolean {
  if (state === null || state.stage === 'DORMANT' || state.lastActivityAt === null) return false;
  if (state.dormancyRecordedFor !== null && !isAfter(state.lastActivityAt, state.dormancyRecordedFor)) return false;
  return millisOf(now) - millisOf(state.lastActivityAt) > dormantAfterMs;
}

/** The properties of the `Customer Went Dormant` the scheduler writes; `last_seen_at` names the activity it covers. */
export function dormancyProperties(state: JourneyState, now: string): JsonObject {
  const lastSeenAt = state.lastActivityAt ?? state.enteredAt;
  return { last_seen_at: lastSeenAt, inactive_days: Math.max(0, Math.floor(secondsBetween(lastSeenAt, now) / 86_400)) };
}

/**
 * Whether the scheduler should record `Cart Abandoned` now: a cart is open, no checkout followed its
 * last product added within `abandonedAfterMs`, and no abandonment was recorded for it.
 */
export function dueForCartAbandonment(state: JourneyState | null, now: string, abandonedAfterMs: number): boolean {
  const addedAt = state === null ? null : openCartSince(state.cart);
  if (state === null || addedAt === null) return false;
  if (state.cart.abandonmentRecordedFor !== null && !isAfter(addedAt, state.cart.abandonmentRecordedFor)) return false;
  return millisOf(now) - millisOf(addedAt) > abandonedAfterMs;
}

/** The properties of the `Cart Abandoned` the scheduler writes; `last_activity_at` names the cart it covers. */
export function cartAbandonmentProperties(state: JourneyState): JsonObject {
  return { last_activity_at: state.cart.lastProductAddedAt };
}

/** The last time a product was added to a cart still open, or null when no cart is open. */
export function openCartSince(cart: CartState): string | null {
  const { lastProductAddedAt, lastCheckoutAt } = cart;
  if (lastProductAddedAt === null) return null;
  return lastCheckoutAt === null || isAfter(lastProductAddedAt, lastCheckoutAt) ? lastProductAddedAt : null;
}

type TrackedFacts = Pick<
  JourneyState,
  'completedOrders' | 'lastActivityAt' | 'dormancyRecordedFor' | 'cart' | 'appliedRevisions'
>;

/** Everything the event changes but the stage. */
function trackedFacts(state: JourneyState | null, event: CustomerEvent): TrackedFacts {
  const { type, occurredAt } = event;
  const cart = state?.cart ?? { lastProductAddedAt: null, lastCheckoutAt: null, abandonmentRecordedFor: null };
  const lastActivityAt = state?.lastActivityAt ?? null;
  const dormancyRecordedFor = state?.dormancyRecordedFor ?? null;
  return {
    completedOrders: (state?.completedOrders ?? 0) + (type === stageRules.repeatOrder.eventType ? 1 : 0),
    lastActivityAt: isActivity(event.category) ? laterOf(lastActivityAt, occurredAt) : lastActivityAt,
    dormancyRecordedFor:
      type === stageRules.dormancy.eventType
        ? laterOf(dormancyRecordedFor, instantProperty(event, 'last_seen_at') ?? lastActivityAt ?? occurredAt)
        : dormancyRecordedFor,
    cart: {
      lastProductAddedAt: stageRules.cart.openedBy.includes(type)
        ? laterOf(cart.lastProductAddedAt, occurredAt)
        : cart.lastProductAddedAt,
      lastCheckoutAt: stageRules.cart.closedBy.includes(type)
        ? laterOf(cart.lastCheckoutAt, occurredAt)
        : cart.lastCheckoutAt,
      abandonmentRecordedFor:
        type === stageRules.cart.abandonedEventType
          ? laterOf(
              cart.abandonmentRecordedFor,
              instantProperty(event, 'last_activity_at') ?? cart.lastProductAddedAt ?? occurredAt,
            )
          : cart.abandonmentRecordedFor,
    },
    appliedRevisions: withApplied(state?.appliedRevisions ?? [], event),
  };
}

function firstStageOf(event: CustomerEvent): JourneyStage {
  if (event.type === stageRules.dormancy.eventType) return stageRules.dormancy.stage;
  if (stageRules.unmoving.includes(event.type)) return stageRules.firstStage;
  return stageRules.stageOfCategory[event.category] ?? stageRules.firstStage;
}

/** The stage the event moves the customer to, or null when it does not move them. */
function nextStageOf(state: JourneyState, event: CustomerEvent, completedOrders: number): JourneyStage | null {
  if (stageRules.unmoving.includes(event.type)) return null;
  if (event.type === stageRules.dormancy.eventType) {
    // Activity recorded after the scheduler decided makes its decision stale.
    const lastSeenAt = instantProperty(event, 'last_seen_at');
    const stale = lastSeenAt !== null && state.lastActivityAt !== null && isAfter(state.lastActivityAt, lastSeenAt);
    return stale ? null : stageRules.dormancy.stage;
  }
  const repeatOrder =
    event.type === stageRules.repeatOrder.eventType && completedOrders >= stageRules.repeatOrder.completedOrders;
  const implied = repeatOrder ? stageRules.repeatOrder.stage : stageRules.stageOfCategory[event.category];
  if (implied === null) return null;
  // Only activity after the dormancy was recorded wakes the customer, so a late event cannot move time backwards.
  if (state.stage === 'DORMANT') return isAfter(event.occurredAt, state.enteredAt) ? implied : null;
  return stageRank(implied) > stageRank(state.stage) ? implied : null;
}

function transitionOf(previous: JourneyState | null, next: JourneyState, cause: CustomerEvent): StageTransition {
  return {
    customerId: next.customerId,
    from: previous?.stage ?? null,
    to: next.stage,
    at: cause.occurredAt,
    eventType: cause.type,
    secondsInPreviousStage:
      previous === null ? null : Math.max(0, secondsBetween(previous.enteredAt, cause.occurredAt)),
  };
}

function instantProperty(event: CustomerEvent, key: string): string | null {
  const value = event.properties[key];
  return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : null;
}

function canonicalJourney(state: JourneyState): JourneyState {
  return {
    customerId: state.customerId,
    stage: state.stage,
    enteredAt: state.enteredAt,
    completedOrders: state.completedOrders,
    lastActivityAt: state.lastActivityAt,
    dormancyRecordedFor: state.dormancyRecordedFor,
    cart: {
      lastProductAddedAt: state.cart.lastProductAddedAt,
      lastCheckoutAt: state.cart.lastCheckoutAt,
      abandonmentRecordedFor: state.cart.abandonmentRecordedFor,
    },
    appliedRevisions: sortedRevisions(state.appliedRevisions),
    ...(state.mergedInto !== undefined ? { mergedInto: state.mergedInto } : {}),
  };
}
