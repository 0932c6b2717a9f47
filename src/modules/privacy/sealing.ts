import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** A value encrypted with AES-256-GCM, bound by its additional data to what it belongs to. */
export interface SealedEnvelope {
  v: 1;
  iv: string;
  data: string;
  tag: string;
}

export function seal(key: Buffer, value: unknown, boundTo: string): SealedEnvelope {
  const iv = freshIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(boundTo, 'utf8'));
  const data = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return { v: 1, iv: iv.toString('base64'), data: data.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

const IV_BYTES = 12;
/** Random IVs drawn 4 KiB at a time: one call into the CSPRNG per 341 seals instead of one each. */
const ivPool = { bytes: Buffer.alloc(0), next: 0 };

function freshIv(): Buffer {
  if (ivPool.next + IV_BYTES > ivPool.bytes.length) {
    ivPool.bytes = randomBytes(IV_BYTES * 341);
    ivPool.next = 0;
  }
  const iv = ivPool.bytes.subarray(ivPool.next, ivPool.next + IV_BYTES);
  ivPool.next += IV_BYTES;
  return iv;
}

/** The sealed value; throws when the key or the binding is not the one it was sealed with. */
export function unseal(key: Buffer, envelope: SealedEnvelope, boundTo: string): unknown {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(envelope.iv, 'base64'));
  decipher.setAAD(Buffer.from(boundTo, 'utf8'));
  decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
  const plain = Buffer.concat([decipher.update(Buffer.from(envelope.data, 'base64')), decipher.final()]);
  return JSON.parse(plain.toString('utf8'));
}

/** Names a master key without revealing it, so each wrapped data key says which key wrapped it. */
export function masterKeyId(masterKey: Buffer): string {
  return createHash('sha256').update('trailmap master key id\0').update(masterKey).digest('base64url').slice(0, 16);
}

export function wrapDataKey(masterKey: Buffer, dataKey: Buffer, customerId: string): SealedEnvelope {
  return seal(masterKey, dataKey.toString('base64'), `data-key:${customerId}`);
}

/**
 * The data key in memory of its own. A small `Buffer.from` is a slice of Node's shared 8 KiB pool, and
 * a key kept in a cache could keep the whole slab alive (up to 8 KiB a key; the cache holds 100,000).
 */
export function unwrapDataKey(masterKey: Buffer, wrapped: SealedEnvelope, customerId: string): Buffer {
  const decoded = Buffer.from(unseal(masterKey, wrapped, `data-key:${customerId}`) as string, 'base64');
  const key = Buffer.alloc(decoded.length);
  decoded.copy(key);
  return key;
}
