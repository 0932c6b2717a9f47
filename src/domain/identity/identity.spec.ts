import { randomBytes } from 'node:crypto';
import {
  anonymousCustomerId,
  customerOf,
  identitiesIn,
  identityHash,
  isAnonymousCustomer,
  normalizeEmail,
  normalizePhone,
  streamOf,
} from './identity.js';

describe('customer identity', () => {
  it('names a customer stream after the customer and back', () => {
    expect(streamOf('u-42')).toBe('customer-u-42');
    expect(customerOf('customer-anon:abc')).toBe('anon:abc');
    expect(() => customerOf('orders-1')).toThrow('Not a customer stream');
  });

  it('gives an anonymous visitor a customer id of its own', () => {
    expect(anonymousCustomerId('abc')).toBe('anon:abc');
    expect(isAnonymousCustomer('anon:abc')).toBe(true);
    expect(isAnonymousCustomer('u-42')).toBe(false);
  });

  it('normalizes emails and phones so that the same person matches', () => {
    expect(normalizeEmail('  Ada.Lovelace@Example.COM ')).toBe('ada.lovelace@example.com');
    expect(normalizePhone('+44 (20) 7946-0958')).toBe('+442079460958');
    expect(normalizePhone('0044 20 7946 0958')).toBe('+442079460958');
    expect(normalizePhone('020 7946 0958')).toBe('02079460958');
  });

  it('hashes an identity with a key, after normalization, without revealing it', () => {
    const key = randomBytes(32);
    const hash = identityHash(key, { kind: 'EMAIL', value: 'Ada@Example.com' });
    expect(hash).toBe(identityHash(key, { kind: 'EMAIL', value: ' ada@example.com' }));
    expect(hash).not.toContain('ada');
    expect(hash).not.toBe(identityHash(randomBytes(32), { kind: 'EMAIL', value: 'ada@example.com' }));
    expect(hash).not.toBe(identityHash(key, { kind: 'USER_ID', value: 'ada@example.com' }));
  });

  it('finds the identities an event reveals', () => {
    expect(identitiesIn({ userId: 'u1', anonymousId: 'a1', traits: { email: 'A@B.co', phone: '+1 555 0100', name: 'Ada' } })).toEqual([
      { kind: 'USER_ID', value: 'u1' },
      { kind: 'ANONYMOUS_ID', value: 'a1' },
      { kind: 'EMAIL', value: 'a@b.co' },
      { kind: 'PHONE', value: '+15550100' },
    ]);
  });
});
