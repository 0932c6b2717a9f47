import { randomBytes } from 'node:crypto';
import { masterKeyId, seal, unseal, unwrapDataKey, wrapDataKey } from './sealing.js';

describe('sealing personal data', () => {
  const key = randomBytes(32);

  it('opens what it sealed, with the same key and binding', () => {
    const envelope = seal(key, { 'traits.email': 'ada@example.com' }, 'event-1');
    expect(JSON.stringify(envelope)).not.toContain('ada');
    expect(unseal(key, envelope, 'event-1')).toEqual({ 'traits.email': 'ada@example.com' });
  });

  it('refuses another key, another binding or a tampered ciphertext', () => {
    const envelope = seal(key, 'secret', 'event-1');
    expect(() => unseal(randomBytes(32), envelope, 'event-1')).toThrow();
    expect(() => unseal(key, envelope, 'event-2')).toThrow();
    const tampered = { ...envelope, data: Buffer.from('x' + Buffer.from(envelope.data, 'base64').toString('latin1'), 'latin1').toString('base64') };
    expect(() => unseal(key, tampered, 'event-1')).toThrow();
  });

  it('wraps a data key for one customer under the master key', () => {
    const master = randomBytes(32);
    const dataKey = randomBytes(32);
    const wrapped = wrapDataKey(master, dataKey, 'u-1');
    expect(unwrapDataKey(master, wrapped, 'u-1').equals(dataKey)).toBe(true);
    expect(() => unwrapDataKey(master, wrapped, 'u-2')).toThrow();
    expect(masterKeyId(master)).toBe(masterKeyId(Buffer.from(master)));
    expect(masterKeyId(master)).not.toBe(masterKeyId(randomBytes(32)));
  });

  it('gives an unwrapped data key memory of its own, so a cached key keeps no shared pool slab alive', () => {
    const master = randomBytes(32);
    const key = unwrapDataKey(master, wrapDataKey(master, randomBytes(32), 'u-1'), 'u-1');
    expect(key.byteLength).toBe(32);
    expect(key.buffer.byteLength).toBe(32);
  });
});
