import { isAnonymousCustomer } from '../../domain/identity/identity.js';
import type { Database } from '../database/database.js';

/**
 * The customer a subscriber filters on, as the API knows them: an anonymous visitor linked to a user
 * is that user (`customer(id: "anon:…")` answers the user), so once the link is known the
 * subscriber follows both ids.
 */
export class FollowedCustomer {
  private readonly ids: Set<string>;

  constructor(readonly requested: string) {
    this.ids = new Set([requested]);
  }

  includes(customerId: string | undefined): boolean {
    return customerId !== undefined && this.ids.has(customerId);
  }

  /** An anonymous visitor whose user is not known yet: its feed looks the link up. */
  get awaitingLink(): boolean {
    return isAnonymousCustomer(this.requested) && this.ids.size === 1;
  }

  follow(customerId: string): void {
    this.ids.add(customerId);
  }
}

/**
 * The user each of these anonymous visitors is merged into, in a projection's own table: that
 * projection commits the merge in the transaction that announces it, so the answer is never behind it.
 */
export async function mergedVisitors(database: Database, table: 'journey_states' | 'customer_profiles', customerIds: Iterable<string>): Promise<Map<string, string>> {
  const visitors = [...new Set(customerIds)].filter(isAnonymousCustomer);
  if (visitors.length === 0) return new Map();
  const { rows } = await database.query<{ customer_id: string; merged_into: string }>(
    `SELECT customer_id, merged_into FROM ${table} WHERE customer_id = ANY($1::text[]) AND merged_into IS NOT NULL`,
    [visitors],
  );
  return new Map(rows.map((row) => [row.customer_id, row.merged_into]));
}
