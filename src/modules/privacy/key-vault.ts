import { randomBytes } from 'node:crypto';
import type { Database } from '../database/database.js';
import type { Notifications } from '../event-store/postgres/notifications.js';
import { masterKeyId, unwrapDataKey, wrapDataKey, type SealedEnvelope } from './sealing.js';

/** Data keys kept in memory, most recently used last; destroyed keys are remembered as null. */
const CACHE_LIMIT = 100_000;
/** Announces destroyed keys, so every instance drops them from its cache at once. */
export const KEYS_DESTROYED_CHANNEL = 'trailmap_keys_destroyed';

/**
 * Per-customer data keys: created on first use, stored wrapped by the master key in
 * `customer_keys` (the one place that writes it), destroyed to forget a customer
 * (crypto-shredding: the log keeps its events, their personal data is unreadable for ever).
 */
export class KeyVault {
  private readonly cache = new Map<string, Buffer | null>();
  private readonly masterKeyId: string;
  /** Master keys by id: the current one wraps new keys; earlier ones still unwrap until keys are re-wrapped. */
  private readonly masterKeys: Map<string, Buffer>;
  private readonly stopListening?: () => void;
  private readonly destroyed?: Notifications;

  constructor(
    private readonly database: Database,
    private readonly masterKey: Buffer,
    { previousMasterKeys = [], destroyed }: { previousMasterKeys?: Buffer[]; destroyed?: Notifications } = {},
  ) {
    this.masterKeyId = masterKeyId(masterKey);
    this.masterKeys = new Map([masterKey, ...previousMasterKeys].map((key) => [masterKeyId(key), key]));
    this.destroyed = destroyed;
    this.stopListening = destroyed?.onNotification((customerIds) => {
      for (const customerId of customerIds.split('\n')) this.cache.set(customerId, null);
    });
  }

  /** Each customer's data key; undefined for a customer whose key was destroyed (or, without `create`, never made). */
  async keysFor(customerIds: Iterable<string>, { create }: { create: boolean }): Promise<Map<string, Buffer | undefined>> {
    const keys = new Map<string, Buffer | undefined>();
    const missing: string[] = [];
    for (const customerId of new Set(customerIds)) {
      const cached = this.cache.get(customerId);
      if (cached === undefined) missing.push(customerId);
      else keys.set(customerId, cached ?? undefined);
    }
    if (missing.length === 0) return keys;
    // One round trip: keys made now come back from RETURNING, keys made before from the statement's snapshot.
    missing.sort(); // rows inserted in one order by every writer: concurrent batches cannot deadlock on them
    const fresh = create ? missing.map((customerId) => ({ customerId, wrapped: wrapDataKey(this.masterKey, randomBytes(32), customerId) })) : [];
    const { rows } = await this.database.query<{ customer_id: string; wrapped_key: SealedEnvelope | null; master_key_id: string | null }>(
      `WITH created AS (
         INSERT INTO customer_keys (customer_id, wrapped_key, master_key_id)
         SELECT entry->>'customerId', entry->'wrapped', $3 FROM jsonb_array_elements($2::jsonb) AS entry
         ON CONFLICT (customer_id) DO NOTHING
         RETURNING customer_id, wrapped_key, master_key_id)
       SELECT * FROM created
       UNION ALL
       SELECT customer_id, wrapped_key, master_key_id FROM customer_keys
       WHERE customer_id = ANY($1::text[]) AND customer_id NOT IN (SELECT customer_id FROM created)`,
      [missing, JSON.stringify(fresh), this.masterKeyId],
    );
    // A key another request was making at the same moment committed after this statement's snapshot: read it now.
    const seen = new Set(rows.map((row) => row.customer_id));
    const racing = create ? missing.filter((customerId) => !seen.has(customerId)) : [];
    if (racing.length > 0) {
      const late = await this.database.query<{ customer_id: string; wrapped_key: SealedEnvelope | null; master_key_id: string | null }>(
        'SELECT customer_id, wrapped_key, master_key_id FROM customer_keys WHERE customer_id = ANY($1::text[])',
        [racing],
      );
      rows.push(...late.rows);
    }
    for (const row of rows) {
      const key = row.wrapped_key ? unwrapDataKey(this.masterKeyFor(row.customer_id, row.master_key_id), row.wrapped_key, row.customer_id) : null;
      this.remember(row.customer_id, key);
      keys.set(row.customer_id, key ?? undefined);
    }
    return keys;
  }

  async keyFor(customerId: string): Promise<Buffer | undefined> {
    return (await this.keysFor([customerId], { create: false })).get(customerId);
  }

  /**
   * Destroys the customers' data keys for good (a row stays, so no new key is ever made for them)
   * and tells every instance. Destroying a destroyed key changes nothing.
   */
  async destroy(customerIds: string[]): Promise<void> {
    const sorted = [...new Set(customerIds)].sort();
    await this.database.transaction(async (client) => {
      await client.query(
        `INSERT INTO customer_keys (customer_id, wrapped_key, master_key_id, destroyed_at)
         SELECT customer_id, NULL, NULL, now() FROM unnest($1::text[]) AS customer_id
         ON CONFLICT (customer_id) DO UPDATE
           SET wrapped_key = NULL, master_key_id = NULL, destroyed_at = coalesce(customer_keys.destroyed_at, now())`,
        [sorted],
      );
      await client.query('SELECT pg_notify($1, $2)', [KEYS_DESTROYED_CHANNEL, sorted.join('\n')]);
    });
    for (const customerId of sorted) this.cache.set(customerId, null);
  }

  /** The customers among these whose keys were destroyed: the forgotten ones. */
  async destroyedAmong(customerIds: string[]): Promise<Set<string>> {
    const { rows } = await this.database.query<{ customer_id: string }>(
      'SELECT customer_id FROM customer_keys WHERE customer_id = ANY($1::text[]) AND destroyed_at IS NOT NULL',
      [customerIds],
    );
    return new Set(rows.map((row) => row.customer_id));
  }

  /** Re-wraps every data key under the current master key (after a rotation); the log is not touched. */
  async rewrapAll(batchSize = 1_000): Promise<number> {
    let rewrapped = 0;
    for (;;) {
      const { rows } = await this.database.query<{ customer_id: string; wrapped_key: SealedEnvelope; master_key_id: string }>(
        `SELECT customer_id, wrapped_key, master_key_id FROM customer_keys
         WHERE wrapped_key IS NOT NULL AND master_key_id <> $1 ORDER BY customer_id LIMIT $2`,
        [this.masterKeyId, batchSize],
      );
      if (rows.length === 0) return rewrapped;
      const updates = rows.map((row) => ({
        customerId: row.customer_id,
        wrapped: wrapDataKey(this.masterKey, unwrapDataKey(this.masterKeyFor(row.customer_id, row.master_key_id), row.wrapped_key, row.customer_id), row.customer_id),
        previous: row.master_key_id,
      }));
      const result = await this.database.query(
        `UPDATE customer_keys SET wrapped_key = entry->'wrapped', master_key_id = $2
         FROM jsonb_array_elements($1::jsonb) AS entry
         WHERE customer_id = entry->>'customerId' AND master_key_id = entry->>'previous'`,
        [JSON.stringify(updates), this.masterKeyId],
      );
      rewrapped += result.rowCount ?? 0;
    }
  }

  async close(): Promise<void> {
    this.stopListening?.();
    await this.destroyed?.close();
  }

  private masterKeyFor(customerId: string, id: string | null): Buffer {
    const key = id ? this.masterKeys.get(id) : undefined;
    if (!key) {
      throw new Error(
        `The data key of customer ${customerId} is wrapped by master key ${id}, which is neither TRAILMAP_MASTER_KEY nor one of TRAILMAP_PREVIOUS_MASTER_KEYS.`,
      );
    }
    return key;
  }

  private remember(customerId: string, key: Buffer | null): void {
    this.cache.delete(customerId);
    this.cache.set(customerId, key);
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
  }
}
