import type { EventSection } from '../catalog/index.js';
import type { CustomerEvent, JsonObject } from '../customer-event.js';
import { anonymousCustomerId, identitiesIn, type Identity, type IdentityKind } from '../identity/identity.js';
import {
  alreadyApplied,
  appliedRevisionOf,
  compareKeys,
  coversRevisions,
  inStrictOrder,
  ownValue,
  setOwn,
  sortedByKey,
  sortedRevisions,
  unionOfRevisions,
  withApplied,
  type StoredRevisions,
} from '../projection/applied-revisions.js';
import { earlierOf, isAfter, laterOf } from '../projection/instants.js';
import { mergeSessions, noSessions, sessionCount, withActivity, type Sessions } from './sessions.js';

export interface CustomerMetrics {
  /** Every event applied, system events included. */
  events: number;
  sessions: number;
  pageViews: number;
  orders: number;
  revenue: number;
  /** revenue / orders; null while there is no order. */
  averageOrderValue: number | null;
  returns: number;
  openSupportTickets: number;
}

export type SupportTicketStatus = 'OPEN' | 'CLOSED';

export interface SupportTickets {
  /** By `ticket_id`; a close wins over a create whatever order they arrive in. */
  byId: Record<string, SupportTicketStatus>;
  /** Tickets created without a `ticket_id` and not closed (a close without id closes one of them). */
  openWithoutId: number;
}

/**
 * The unified profile of one customer, as the projection folds it: what is served, and the
 * bookkeeping it needs to fold the next events (stored apart: see `splitProfile`). Plain JSON with a
 * canonical key and array order, so a live build and a rebuild by replay are byte-for-byte equal.
 */
export interface CustomerProfile {
  customerId: string;
  /** The highest revision of the customer's own stream applied; -1 before any. */
  version: number;
  forgotten: boolean;
  /** Set on an anonymous profile once it has been folded into this user's profile. */
  mergedInto?: string;
  /** Deduplicated, ordered by kind (USER_ID, ANONYMOUS_ID, EMAIL, PHONE, EXTERNAL), then value. */
  identities: Identity[];
  email: string | null;
  name: string | null;
  phone: string | null;
  traits: JsonObject;
  /** occurredAt of the event that set each trait: a trait is only replaced by a newer one. */
  traitsUpdatedAt: Record<string, string>;
  /** Earliest and latest customer activity (system events are not activity); null before any. */
  firstSeenAt: string | null;
  lastSeenAt: string | null;
  /** Distinct, sorted. */
  channels: string[];
  metrics: CustomerMetrics;
  sessions: Sessions;
  supportTickets: SupportTickets;
  /** The highest revision applied from each source stream (the own one and the linked anonymous ones); a state stored before these were pairs holds an object. */
  appliedRevisions: StoredRevisions;
}

/** What the projection keeps to fold the next events, and no reader is served. */
export type ProfileBookkeeping = Pick<CustomerProfile, 'traitsUpdatedAt' | 'sessions' | 'supportTickets' | 'appliedRevisions'>;

/** The profile as callers read it. */
export type ServedProfile = Omit<CustomerProfile, keyof ProfileBookkeeping>;

/**
 * The profile as it is stored, in two parts, so that a read fetches and parses only what it serves
 * (the bookkeeping is about as large again, and grows with the customer's history).
 */
export function splitProfile({ traitsUpdatedAt, sessions, supportTickets, appliedRevisions, ...served }: CustomerProfile): [ServedProfile, ProfileBookkeeping] {
  return [served, { traitsUpdatedAt, sessions, supportTickets, appliedRevisions }];
}

/** The profile the two stored parts were split from (its keys in another order, which `canonicalProfile` restores). */
export function joinedProfile(served: ServedProfile, bookkeeping: ProfileBookkeeping): CustomerProfile {
  return { ...served, ...bookkeeping };
}

export const profileEventTypes = {
  pageViews: ['Page Viewed', 'Screen Viewed'],
  orderCompleted: 'Order Completed',
  returnRequested: 'Return Requested',
  ticketCreated: 'Support Ticket Created',
  ticketClosed: 'Support Ticket Closed',
  identityLinked: 'Identity Linked',
  customerForgotten: 'Customer Forgotten',
} as const;

/** The types whose properties the profile reads (revenue, ticket ids, the linked visitor); of the rest it reads traits only. */
const typesWithPropertiesRead: ReadonlySet<string> = new Set([
  profileEventTypes.orderCompleted,
  profileEventTypes.ticketCreated,
  profileEventTypes.ticketClosed,
  profileEventTypes.identityLinked,
]);

/**
 * Whether the profile reads any of an event's sealed personal values, by the sections they were sealed
 * from; an event stored before those were recorded (`sealedIn` undefined) may hold any.
 */
export function profileReadsSealed(type: string, sealedIn: readonly EventSection[] | undefined): boolean {
  if (sealedIn === undefined) return true;
  return sealedIn.includes('traits') || (sealedIn.includes('properties') && typesWithPropertiesRead.has(type));
}

const identityKindOrder: readonly IdentityKind[] = ['USER_ID', 'ANONYMOUS_ID', 'EMAIL', 'PHONE', 'EXTERNAL'];
const personalIdentityKinds: ReadonlySet<IdentityKind> = new Set(['EMAIL', 'PHONE']);

export function initialProfile(customerId: string): CustomerProfile {
  return {
    customerId,
    version: -1,
    forgotten: false,
    identities: [],
    email: null,
    name: null,
    phone: null,
    traits: {},
    traitsUpdatedAt: {},
    firstSeenAt: null,
    lastSeenAt: null,
    channels: [],
    metrics: {
      events: 0,
      sessions: 0,
      pageViews: 0,
      orders: 0,
      revenue: 0,
      averageOrderValue: null,
      returns: 0,
      openSupportTickets: 0,
    },
    sessions: noSessions(),
    supportTickets: { byId: {}, openWithoutId: 0 },
    appliedRevisions: [],
  };
}

/**
 * The profile once `event` is applied. The event may come from the customer's own stream or from a
 * linked anonymous stream; an event already applied from its stream changes nothing.
 */
export function evolveProfile(profile: CustomerProfile | null, event: CustomerEvent): CustomerProfile {
  const next = profileWith(profile, event);
  return next === profile ? profile : canonicalProfile(next);
}

/**
 * `evolveProfile` without the canonical form (key and array order, values derived from the rest), for
 * folding a run of events: `canonicalProfile` once after the last gives what `evolveProfile` after each would.
 */
export function profileWith(profile: CustomerProfile | null, event: CustomerEvent): CustomerProfile {
  const current = profile ?? initialProfile(event.customerId);
  if (alreadyApplied(current.appliedRevisions, event)) return current;

  const forgets = event.type === profileEventTypes.customerForgotten;
  const forgotten = current.forgotten || forgets;
  const personal = event.personalDataReadable && !forgotten;
  const activity = event.category !== 'SYSTEM';

  const revealed = identitiesIn({ ...event, traits: personal ? event.traits : undefined });
  const identities = [...current.identities, ...revealed];
  const linkedId = event.type === profileEventTypes.identityLinked ? linkedAnonymousId(event) : null;
  if (linkedId) identities.push({ kind: 'ANONYMOUS_ID', value: linkedId });

  const traits = personal ? latestTraits(current, event) : traitsOf(current);
  const withEvent: CustomerProfile = {
    ...current,
    forgotten,
    identities,
    ...traits,
    firstSeenAt: activity ? earlierOf(current.firstSeenAt, event.occurredAt) : current.firstSeenAt,
    lastSeenAt: activity ? laterOf(current.lastSeenAt, event.occurredAt) : current.lastSeenAt,
    channels: activity && event.channel ? [...current.channels, event.channel] : current.channels,
    metrics: countedMetrics(current.metrics, event),
    sessions: activity ? withActivity(current.sessions, event.occurredAt) : current.sessions,
    supportTickets: trackedTickets(current.supportTickets, event),
    appliedRevisions: withApplied(current.appliedRevisions, event),
  };
  return forgets ? withoutPersonalData(withEvent) : withEvent;
}

/**
 * The user's profile with an anonymous visitor's profile folded in, on the `Identity Linked` event that
 * links them (applied here too, once). Folding a profile already folded (marked `mergedInto`, or whose
 * every event the user's profile has applied) changes nothing, so replays and duplicate links fold it once.
 */
export function mergeProfiles(into: CustomerProfile, anonymous: CustomerProfile, link: CustomerEvent): CustomerProfile {
  assertLinks(link, anonymous.customerId);
  const user = evolveProfile(into, link);
  const folded = anonymous.mergedInto !== undefined || coversRevisions(user.appliedRevisions, anonymous.appliedRevisions);
  if (folded) return user;

  const traits = user.forgotten ? traitsOf(user) : mergedTraits(user, anonymous);
  return canonicalProfile({
    ...user,
    identities: [...user.identities, ...anonymous.identities].filter(
      ({ kind }) => !user.forgotten || !personalIdentityKinds.has(kind),
    ),
    ...traits,
    firstSeenAt: earlierOf(user.firstSeenAt, anonymous.firstSeenAt),
    lastSeenAt: laterOf(user.lastSeenAt, anonymous.lastSeenAt),
    channels: [...user.channels, ...anonymous.channels],
    metrics: {
      ...user.metrics,
      events: user.metrics.events + anonymous.metrics.events,
      pageViews: user.metrics.pageViews + anonymous.metrics.pageViews,
      orders: user.metrics.orders + anonymous.metrics.orders,
      revenue: roundedAmount(user.metrics.revenue + anonymous.metrics.revenue),
      returns: user.metrics.returns + anonymous.metrics.returns,
    },
    sessions: mergeSessions(user.sessions, anonymous.sessions),
    supportTickets: mergedTickets(user.supportTickets, anonymous.supportTickets),
    appliedRevisions: unionOfRevisions(user.appliedRevisions, anonymous.appliedRevisions),
  });
}

/** The anonymous profile once folded into `userId`'s: store it so a later link folds nothing again. */
export function markProfileMerged(anonymous: CustomerProfile, userId: string): CustomerProfile {
  return canonicalProfile({ ...anonymous, mergedInto: userId });
}

/** Folding a customer that the link does not name is a bug in the caller: fail rather than corrupt a profile. */
export function assertLinks(link: CustomerEvent, anonymousCustomer: string): void {
  const linked = linkedAnonymousId(link);
  if (linked === null || anonymousCustomerId(linked) !== anonymousCustomer) {
    throw new Error(`${link.type} ${link.id} does not link ${anonymousCustomer}`);
  }
}

/** The anonymous id an `Identity Linked` event links: `properties.previous_id`, else the event's `anonymousId`. */
export function linkedAnonymousId(link: CustomerEvent): string | null {
  const previousId = link.properties.previous_id;
  if (typeof previousId === 'string' && previousId.trim()) return previousId.trim();
  return link.anonymousId ?? null;
}

type Traits = Pick<CustomerProfile, 'traits' | 'traitsUpdatedAt'>;

function traitsOf({ traits, traitsUpdatedAt }: CustomerProfile): Traits {
  return { traits, traitsUpdatedAt };
}

function latestTraits(profile: CustomerProfile, event: CustomerEvent): Traits {
  if (!hasKeys(event.traits)) return traitsOf(profile);
  const traits = { ...profile.traits };
  const traitsUpdatedAt = { ...profile.traitsUpdatedAt };
  for (const [key, value] of Object.entries(event.traits)) {
    const setAt = ownValue(traitsUpdatedAt, key);
    // A tie goes to the event applied later; only a strictly newer value is kept over it.
    if (value === undefined || (setAt !== undefined && isAfter(setAt, event.occurredAt))) continue;
    setOwn(traits, key, value);
    setOwn(traitsUpdatedAt, key, event.occurredAt);
  }
  return { traits, traitsUpdatedAt };
}

function mergedTraits(user: CustomerProfile, anonymous: CustomerProfile): Traits {
  const traits = { ...user.traits };
  const traitsUpdatedAt = { ...user.traitsUpdatedAt };
  for (const [key, value] of Object.entries(anonymous.traits)) {
    const anonymousSetAt = ownValue(anonymous.traitsUpdatedAt, key);
    const userSetAt = ownValue(traitsUpdatedAt, key);
    // On a tie the user's own value stays.
    if (anonymousSetAt === undefined || (userSetAt !== undefined && !isAfter(anonymousSetAt, userSetAt))) continue;
    setOwn(traits, key, value);
    setOwn(traitsUpdatedAt, key, anonymousSetAt);
  }
  return { traits, traitsUpdatedAt };
}

function hasKeys(record: JsonObject): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return true;
  return false;
}

function withoutPersonalData(profile: CustomerProfile): CustomerProfile {
  return {
    ...profile,
    identities: profile.identities.filter(({ kind }) => !personalIdentityKinds.has(kind)),
    traits: {},
    traitsUpdatedAt: {},
  };
}

function countedMetrics(metrics: CustomerMetrics, event: CustomerEvent): CustomerMetrics {
  const isOrder = event.type === profileEventTypes.orderCompleted;
  return {
    ...metrics,
    events: metrics.events + 1,
    pageViews: metrics.pageViews + ((profileEventTypes.pageViews as readonly string[]).includes(event.type) ? 1 : 0),
    orders: metrics.orders + (isOrder ? 1 : 0),
    revenue: isOrder ? roundedAmount(metrics.revenue + orderRevenue(event.properties)) : metrics.revenue,
    returns: metrics.returns + (event.type === profileEventTypes.returnRequested ? 1 : 0),
  };
}

/** Segment's `revenue`, falling back to `total`; anything but a finite number counts as 0. */
function orderRevenue(properties: JsonObject): number {
  for (const amount of [properties.revenue, properties.total]) {
    if (typeof amount === 'number' && Number.isFinite(amount)) return amount;
  }
  return 0;
}

// Sums of decimal amounts in binary floating point drift (0.1 + 0.2); six places keep any currency exact.
function roundedAmount(amount: number): number {
  return Math.round(amount * 1e6) / 1e6;
}

function trackedTickets(tickets: SupportTickets, event: CustomerEvent): SupportTickets {
  const created = event.type === profileEventTypes.ticketCreated;
  if (!created && event.type !== profileEventTypes.ticketClosed) return tickets;
  const ticketId = idOf(event.properties.ticket_id);
  if (ticketId === null) {
    return { ...tickets, openWithoutId: Math.max(0, tickets.openWithoutId + (created ? 1 : -1)) };
  }
  const status: SupportTicketStatus = created && ownValue(tickets.byId, ticketId) !== 'CLOSED' ? 'OPEN' : 'CLOSED';
  return { ...tickets, byId: { ...tickets.byId, [ticketId]: status } };
}

function mergedTickets(first: SupportTickets, second: SupportTickets): SupportTickets {
  const byId = { ...first.byId };
  for (const [ticketId, status] of Object.entries(second.byId)) {
    setOwn(byId, ticketId, ownValue(byId, ticketId) === 'CLOSED' ? 'CLOSED' : status);
  }
  return { byId, openWithoutId: first.openWithoutId + second.openWithoutId };
}

function idOf(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value.trim() ? value.trim() : null;
}

/**
 * The profile rebuilt in its one key and array order, with the values that derive from the rest
 * (contact fields from traits, sessions and averages in the metrics, the version) recomputed.
 */
export function canonicalProfile(profile: CustomerProfile): CustomerProfile {
  const traits = sortedByKey(profile.traits);
  const traitsUpdatedAt = sortedByKey(profile.traitsUpdatedAt);
  const { metrics, supportTickets } = profile;
  const openSupportTickets =
    Object.values(supportTickets.byId).filter((status) => status === 'OPEN').length + supportTickets.openWithoutId;
  return {
    customerId: profile.customerId,
    version: appliedRevisionOf(profile.appliedRevisions, profile.customerId) ?? -1,
    forgotten: profile.forgotten,
    ...(profile.mergedInto !== undefined ? { mergedInto: profile.mergedInto } : {}),
    identities: distinctIdentities(profile.identities),
    email: textTrait(traits, 'email'),
    name: nameOf(traits, traitsUpdatedAt),
    phone: textTrait(traits, 'phone'),
    traits,
    traitsUpdatedAt,
    firstSeenAt: profile.firstSeenAt,
    lastSeenAt: profile.lastSeenAt,
    channels: [...new Set(profile.channels)].sort(compareKeys),
    metrics: {
      events: metrics.events,
      sessions: sessionCount(profile.sessions),
      pageViews: metrics.pageViews,
      orders: metrics.orders,
      revenue: metrics.revenue,
      averageOrderValue: metrics.orders > 0 ? roundedAmount(metrics.revenue / metrics.orders) : null,
      returns: metrics.returns,
      openSupportTickets,
    },
    sessions: {
      windows: profile.sessions.windows.map(({ from, to }) => ({ from, to })),
      archived: profile.sessions.archived,
      archivedUntil: profile.sessions.archivedUntil,
    },
    supportTickets: { byId: sortedByKey(supportTickets.byId), openWithoutId: supportTickets.openWithoutId },
    appliedRevisions: sortedRevisions(profile.appliedRevisions),
  };
}

function distinctIdentities(identities: Identity[]): Identity[] {
  if (inStrictOrder(identities, compareIdentities)) return identities;
  const byKey = new Map(identities.map(({ kind, value }) => [`${kind}\u0000${value}`, { kind, value }]));
  return [...byKey.values()].sort(compareIdentities);
}

function compareIdentities(a: Identity, b: Identity): number {
  return identityKindOrder.indexOf(a.kind) - identityKindOrder.indexOf(b.kind) || compareKeys(a.value, b.value);
}

/** `name`, or first and last name joined, whichever was set more recently. */
function nameOf(traits: JsonObject, setAt: Record<string, string>): string | null {
  const fullName = textTrait(traits, 'name');
  const first = newestTextTrait(traits, setAt, ['first_name', 'firstName']);
  const last = newestTextTrait(traits, setAt, ['last_name', 'lastName']);
  const joined = [first?.value, last?.value].filter((part) => part !== undefined).join(' ') || null;
  if (fullName === null || joined === null) return fullName ?? joined;
  const partsSetAt = laterOf(first?.setAt ?? null, last?.setAt ?? null);
  const fullNameSetAt = setAt.name;
  return partsSetAt !== null && fullNameSetAt !== undefined && isAfter(partsSetAt, fullNameSetAt) ? joined : fullName;
}

function newestTextTrait(
  traits: JsonObject,
  setAt: Record<string, string>,
  keys: string[],
): { value: string; setAt: string | null } | null {
  let newest: { value: string; setAt: string | null } | null = null;
  for (const key of keys) {
    const value = textTrait(traits, key);
    if (value === null) continue;
    const keySetAt = setAt[key] ?? null;
    if (newest === null || (keySetAt !== null && (newest.setAt === null || isAfter(keySetAt, newest.setAt)))) {
      newest = { value, setAt: keySetAt };
    }
  }
  return newest;
}

function textTrait(traits: JsonObject, key: string): string | null {
  const value = traits[key];
  return typeof value === 'string' && value.trim() ? value.trim() : null;
}
