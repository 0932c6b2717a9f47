import { Conflict, type Problem } from '../../domain/errors.js';
import { CUSTOMER_STREAM_PREFIX, customerOf, identityHash } from '../../domain/identity/identity.js';
import type { Database } from '../database/database.js';
import type { EventStore } from '../event-store/event-store.port.js';

export interface IdentityLink {
  anonymousId: string;
  customerId: string;
  /** Index of the event that made the link, for error messages. */
  index: number;
}

/**
 * The links from anonymous ids to users, so that events sent with an anonymous id land in the
 * user's stream once they are linked. `identity_links` is written here and nowhere else.
 */
export class IdentityDirectory {
  /** The links requests in flight on this instance are making, by anonymous id and user: how many requests. */
  private readonly linking = new Map<string, number>();

  constructor(
    private readonly database: Database,
    private readonly identityKey: Buffer,
  ) {}

  /** The user each anonymous id is linked to, for those that are linked. */
  async linkedUsers(anonymousIds: Iterable<string>): Promise<Map<string, string>> {
    const byHash = new Map([...new Set(anonymousIds)].map((anonymousId) => [this.hash(anonymousId), anonymousId]));
    if (byHash.size === 0) return new Map();
    const { rows } = await this.database.query<{ anonymous_hash: string; customer_id: string }>(
      'SELECT anonymous_hash, customer_id FROM identity_links WHERE anonymous_hash = ANY($1::text[])',
      [[...byHash.keys()]],
    );
    return new Map(rows.map((row) => [byHash.get(row.anonymous_hash)!, row.customer_id]));
  }

  /**
   * Whether a request in flight on this instance is linking the anonymous id to this user. Another
   * request's events carrying both ids then need no link of their own: making it again would wait
   * on the first one's locks until its commit, and in time-ordered traffic a visitor who just signed
   * in is in the next batch too, so every batch would wait on the one before.
   */
  isBeingLinked(anonymousId: string, customerId: string): boolean {
    return this.linking.has(linkKey(anonymousId, customerId));
  }

  /**
   * Records new links around `append`, which writes their `Identity Linked` events. The anonymous
   * ids stay locked until both are done, so two requests cannot link one id to two users.
   */
  async link<T>(links: IdentityLink[], append: () => Promise<T>): Promise<T> {
    if (links.length === 0) return append();
    const hashed = links.map((link) => ({ ...link, hash: this.hash(link.anonymousId) })).sort((a, b) => a.hash.localeCompare(b.hash));
    for (const { anonymousId, customerId } of links) this.count(anonymousId, customerId, +1);
    try {
      return await this.lockedLink(hashed, append);
    } finally {
      for (const { anonymousId, customerId } of links) this.count(anonymousId, customerId, -1);
    }
  }

  private count(anonymousId: string, customerId: string, change: 1 | -1): void {
    const key = linkKey(anonymousId, customerId);
    const requests = (this.linking.get(key) ?? 0) + change;
    if (requests > 0) this.linking.set(key, requests);
    else this.linking.delete(key);
  }

  private lockedLink<T>(hashed: (IdentityLink & { hash: string })[], append: () => Promise<T>): Promise<T> {
    return this.database.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended(hash, 7220145)) FROM unnest($1::text[]) AS hash', [
        hashed.map((link) => link.hash),
      ]);
      const { rows } = await client.query<{ anonymous_hash: string; customer_id: string }>(
        'SELECT anonymous_hash, customer_id FROM identity_links WHERE anonymous_hash = ANY($1::text[])',
        [hashed.map((link) => link.hash)],
      );
      const linked = new Map(rows.map((row) => [row.anonymous_hash, row.customer_id]));
      const conflicts = hashed.filter((link) => linked.has(link.hash) && linked.get(link.hash) !== link.customerId);
      if (conflicts.length > 0) throw alreadyLinked(conflicts);
      const result = await append();
      await client.query(
        `INSERT INTO identity_links (anonymous_hash, customer_id)
         SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (anonymous_hash) DO NOTHING`,
        [hashed.map((link) => link.hash), hashed.map((link) => link.customerId)],
      );
      return result;
    });
  }

  /** A forgotten customer's anonymous ids no longer lead to them. */
  async forget(customerId: string): Promise<void> {
    await this.database.query('DELETE FROM identity_links WHERE customer_id = $1', [customerId]);
  }

  /**
   * The links again from the log's `Identity Linked` events (the first link of an anonymous id wins,
   * as at ingestion); after a new TRAILMAP_PSEUDONYM_KEY, or to prove the table is disposable.
   */
  async rebuild(store: EventStore, forgottenAmong: (customerIds: string[]) => Promise<Set<string>>): Promise<number> {
    const links = new Map<string, string>();
    let after: string | undefined;
    for (;;) {
      const page = await store.readAll({ after, limit: 1_000, streamPrefix: CUSTOMER_STREAM_PREFIX });
      for (const event of page) {
        const anonymousId = event.type === 'Identity Linked' ? linkedAnonymousIdOf(event.data) : undefined;
        if (anonymousId && !links.has(anonymousId)) links.set(anonymousId, customerOf(event.stream));
      }
      if (page.length < 1_000) break;
      after = page.at(-1)!.position;
    }
    const forgotten = await forgottenAmong([...new Set(links.values())]);
    const kept = [...links].filter(([, customerId]) => !forgotten.has(customerId)).map(([anonymousId, customerId]) => ({ hash: this.hash(anonymousId), customerId }));
    await this.database.transaction(async (client) => {
      await client.query('DELETE FROM identity_links');
      await client.query('INSERT INTO identity_links (anonymous_hash, customer_id) SELECT * FROM unnest($1::text[], $2::text[])', [
        kept.map((link) => link.hash),
        kept.map((link) => link.customerId),
      ]);
    });
    return kept.length;
  }

  private hash(anonymousId: string): string {
    return identityHash(this.identityKey, { kind: 'ANONYMOUS_ID', value: anonymousId });
  }
}

const linkKey = (anonymousId: string, customerId: string) => `${anonymousId}\u0000${customerId}`;

export function alreadyLinked(links: Pick<IdentityLink, 'index'>[]): Conflict {
  const problems: Problem[] = links.map(({ index }) => ({
    index,
    field: 'anonymousId',
    rule: 'already_linked',
    message: 'anonymousId is already linked to another customer; an anonymous id links to one user only',
  }));
  return new Conflict('An anonymous id in this request is already linked to another customer.', problems);
}

function linkedAnonymousIdOf(data: Record<string, unknown>): string | undefined {
  const properties = (data.properties ?? {}) as Record<string, unknown>;
  const anonymousId = properties.previous_id ?? data.anonymousId;
  return typeof anonymousId === 'string' && anonymousId ? anonymousId : undefined;
}
