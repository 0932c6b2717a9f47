import { randomBytes } from 'node:crypto';
import type { Database } from '../database/database.js';
import { masterKeyId, unwrapDataKey, wrapDataKey, type SealedEnvelope } from './sealing.js';

/** Data keys kept in memory, most recently used last; destroyed keys are remembered as null. */
const CACHE_LIMIT = 100_000;

/**
 * Per-customer data keys: created on first use, stored wrapped by the master key in
 * `customer_keys` (the one place that writes it), destroyed to forget a customer.
 */
export class KeyVault {
  private readonly cache = new Map<string, Buffer | null>();
  private readonly masterKeyId: string;

  constructor(
    private readonly database: Database,
    private readonly masterKey: Buffer,
  ) {
    this.masterKeyId = masterKeyId(masterKey);
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
    if (create) {
      // Rows inserted in one order by every writer: concurrent batches cannot deadlock on them.
      missing.sort();
      const fresh = missing.map((customerId) => ({ customerId, wrapped: wrapDataKey(this.masterKey, randomBytes(32), customerId) }));
      await this.database.query(
        `INSERT INTO customer_keys (customer_id, wrapped_key, master_key_id)
         SELECT entry->>'customerId', entry->'wrapped', $2 FROM jsonb_array_elements($1::jsonb) AS entry
         ON CONFLICT (customer_id) DO NOTHING`,
        [JSON.stringify(fresh), this.masterKeyId],
      );
    }
    const { rows } = await this.database.query<{ customer_id: string; wrapped_key: SealedEnvelope | null; master_key_id: string | null }>(
      'SELECT customer_id, wrapped_key, master_key_id FROM customer_keys WHERE customer_id = ANY($1::text[])',
      [missing],
    );
    for (const row of rows) {
      if (row.wrapped_key && row.master_key_id !== this.masterKeyId) {
        throw new Error(
          `The data key of customer ${row.customer_id} is wrapped by master key ${row.master_key_id}, not by the configured one (${this.masterKeyId}): set TRAILMAP_MASTER_KEY to the key this database was written with.`,
        );
      }
      const key = row.wrapped_key ? unwrapDataKey(this.masterKey, row.wrapped_key, row.customer_id) : null;
      this.remember(row.customer_id, key);
      keys.set(row.customer_id, key ?? undefined);
    }
    return keys;
  }

  async keyFor(customerId: string): Promise<Buffer | undefined> {
    return (await this.keysFor([customerId], { create: false })).get(customerId);
  }

  private remember(customerId: string, key: Buffer | null): void {
    this.cache.delete(customerId);
    this.cache.set(customerId, key);
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
  }
}
