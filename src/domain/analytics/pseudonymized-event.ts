import { createHmac } from 'node:crypto';
import { analyticsProperties, type EventCatalog } from '../catalog/index.js';
import type { CustomerEvent } from '../customer-event.js';
import { anonymousCustomerId, isAnonymousCustomer } from '../identity/identity.js';
import { linkedAnonymousId } from '../profile/index.js';

/**
 * The pseudonym of a customer in analytics: an HMAC of the customer id, stable for a key and
 * meaningless without it. Anonymous visitors keep their `anon:` mark, so analysts can tell them apart.
 */
export function pseudonymOf(key: Buffer, customerId: string): string {
  const known = pseudonyms.get(key);
  const remembered = known?.get(customerId);
  if (remembered !== undefined) return remembered;
  const digest = createHmac('sha256', key).update(customerId).digest('base64url').slice(0, 22);
  const pseudonym = isAnonymousCustomer(customerId) ? anonymousCustomerId(digest) : digest;
  const byCustomer = known && known.size < PSEUDONYMS_REMEMBERED ? known : new Map<string, string>();
  byCustomer.set(customerId, pseudonym);
  pseudonyms.set(key, byCustomer);
  return pseudonym;
}

/** A customer's events come in runs (a session, a batch): their pseudonym is computed once per run, not per event. */
const pseudonyms = new WeakMap<Buffer, Map<string, string>>();
const PSEUDONYMS_REMEMBERED = 10_000;

/**
 * The event as analytics may see it: customers as pseudonyms, no ids, only the properties the
 * catalog declares without personal data (URLs without query strings), nothing from the context.
 */
export function pseudonymizedEvent(event: CustomerEvent, key: Buffer, catalog: EventCatalog): CustomerEvent {
  const properties = analyticsProperties(catalog, event.type, event.properties);
  const linked = event.type === 'Identity Linked' ? linkedAnonymousId(event) : null;
  if (linked) properties.previous_id = pseudonymOf(key, anonymousCustomerId(linked)).slice('anon:'.length);
  return {
    id: event.id,
    type: event.type,
    category: event.category,
    customerId: pseudonymOf(key, event.customerId),
    revision: event.revision,
    position: event.position,
    occurredAt: event.occurredAt,
    recordedAt: event.recordedAt,
    ...(event.channel !== undefined && { channel: event.channel }),
    properties,
    traits: {},
    context: {},
    personalDataReadable: false,
  };
}
