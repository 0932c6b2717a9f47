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

  /** The ids followed: the one requested, and its user once linked. */
  get followed(): ReadonlySet<string> {
    return this.ids;
  }

  follow(customerId: string): void {
    this.ids.add(customerId);
  }
}

/**
 * A feed's subscribers, found by the customer ids they follow, so that a change reaches its audience
 * without a look at every subscriber; those that follow no customer in particular get every change.
 */
export class Audience<S extends { customer?: FollowedCustomer }> implements Iterable<S> {
  /** Each member with when it joined, counted in joins. */
  private readonly members = new Map<S, number>();
  private joins = 0;
  private readonly everyone = new Set<S>();
  private readonly byCustomer = new Map<string, Set<S>>();
  /** Anonymous visitors followed as requested whose user is not known yet. */
  private readonly unlinked = new Set<string>();

  get size(): number {
    return this.members.size;
  }

  [Symbol.iterator](): Iterator<S> {
    return this.members.keys();
  }

  /** A mark of who is in now: `of` leaves out those that join after it. */
  get now(): number {
    return this.joins;
  }

  add(subscriber: S): void {
    this.members.set(subscriber, ++this.joins);
    if (!subscriber.customer) this.everyone.add(subscriber);
    else for (const customerId of subscriber.customer.followed) this.index(customerId, subscriber);
    if (subscriber.customer?.awaitingLink) this.unlinked.add(subscriber.customer.requested);
  }

  delete(subscriber: S): void {
    if (!this.members.delete(subscriber)) return;
    this.everyone.delete(subscriber);
    for (const customerId of subscriber.customer?.followed ?? []) {
      const followers = this.byCustomer.get(customerId);
      followers?.delete(subscriber);
      if (followers?.size !== 0) continue;
      this.byCustomer.delete(customerId);
      this.unlinked.delete(customerId);
    }
  }

  /** The subscribers that follow `visitorId` (as requested) follow its user `userId` too from now on. */
  link(visitorId: string, userId: string): void {
    this.unlinked.delete(visitorId);
    for (const subscriber of this.byCustomer.get(visitorId) ?? []) {
      if (subscriber.customer?.requested !== visitorId || subscriber.customer.includes(userId)) continue;
      subscriber.customer.follow(userId);
      this.index(userId, subscriber);
    }
  }

  /**
   * Whoever wants the changes of these customers, of those in at mark `asOf`: their followers, and
   * those that follow no customer in particular.
   */
  of(asOf: number, ...customerIds: (string | undefined)[]): S[] {
    const audience = new Set(this.everyone);
    for (const customerId of customerIds) for (const subscriber of (customerId !== undefined && this.byCustomer.get(customerId)) || []) audience.add(subscriber);
    return [...audience].filter((subscriber) => this.members.get(subscriber)! <= asOf);
  }

  /** Whether anyone follows a customer in particular. */
  get followsAnyone(): boolean {
    return this.byCustomer.size > 0;
  }

  /** The anonymous visitors followed whose user is not known yet. */
  awaitingLink(): string[] {
    return [...this.unlinked];
  }

  private index(customerId: string, subscriber: S): void {
    let followers = this.byCustomer.get(customerId);
    if (!followers) this.byCustomer.set(customerId, (followers = new Set()));
    followers.add(subscriber);
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
