import { createHmac } from 'node:crypto';

/**
 * Who a customer is. A signed-in customer is their `userId`; before sign-in, an anonymous
 * visitor is `anon:<anonymousId>`. Each customer has one stream, `customer-<customerId>`.
 */
export type IdentityKind = 'USER_ID' | 'ANONYMOUS_ID' | 'EMAIL' | 'PHONE' | 'EXTERNAL';

export interface Identity {
  kind: IdentityKind;
  value: string;
}

export const CUSTOMER_STREAM_PREFIX = 'customer-';
const ANONYMOUS_PREFIX = 'anon:';

export function anonymousCustomerId(anonymousId: string): string {
  return `${ANONYMOUS_PREFIX}${anonymousId}`;
}

export function isAnonymousCustomer(customerId: string): boolean {
  return customerId.startsWith(ANONYMOUS_PREFIX);
}

export function streamOf(customerId: string): string {
  return `${CUSTOMER_STREAM_PREFIX}${customerId}`;
}

export function customerOf(stream: string): string {
  if (!stream.startsWith(CUSTOMER_STREAM_PREFIX)) throw new Error(`Not a customer stream: ${stream}`);
  return stream.slice(CUSTOMER_STREAM_PREFIX.length);
}

/** Emails compare case-insensitively, without surrounding spaces. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Phones compare by their digits, with a leading `+` kept when the producer gave one. */
export function normalizePhone(phone: string): string {
  const trimmed = phone.trim();
  const digits = trimmed.replace(/\D/g, '');
  return trimmed.startsWith('+') || trimmed.startsWith('00') ? `+${digits.replace(/^00/, '')}` : digits;
}

export function normalizeIdentity({ kind, value }: Identity): Identity {
  switch (kind) {
    case 'EMAIL':
      return { kind, value: normalizeEmail(value) };
    case 'PHONE':
      return { kind, value: normalizePhone(value) };
    default:
      return { kind, value: value.trim() };
  }
}

/** The lookup key of an identity: a keyed hash of its normalized value, never the value itself. */
export function identityHash(key: Buffer, identity: Identity): string {
  const { kind, value } = normalizeIdentity(identity);
  return createHmac('sha256', key).update(`${kind}\u0000${value}`).digest('base64url');
}

/** The identities an event reveals: its ids and, from traits, email and phone. */
export function identitiesIn(event: { userId?: string; anonymousId?: string; traits?: Record<string, unknown> }): Identity[] {
  const identities: Identity[] = [];
  if (event.userId) identities.push({ kind: 'USER_ID', value: event.userId });
  if (event.anonymousId) identities.push({ kind: 'ANONYMOUS_ID', value: event.anonymousId });
  const email = event.traits?.email;
  if (typeof email === 'string' && email.trim()) identities.push({ kind: 'EMAIL', value: normalizeEmail(email) });
  const phone = event.traits?.phone;
  if (typeof phone === 'string' && phone.trim()) identities.push({ kind: 'PHONE', value: normalizePhone(phone) });
  return identities;
}
