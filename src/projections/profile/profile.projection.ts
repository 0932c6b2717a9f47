import type { CustomerEvent } from '../../domain/customer-event.js';
import { identityHash } from '../../domain/identity/identity.js';
import { evolveProfile, initialProfile, markProfileMerged, mergeProfiles, type CustomerProfile } from '../../domain/profile/index.js';
import type { Projection, ProjectionTransaction } from '../projection.js';
import { foldCustomers, type CustomerEntry } from '../runner/customer-fold.js';

export const CUSTOMER_UPDATED_CHANNEL = 'trailmap_customer_updated';

/** The unified customer profile, and the identity index that finds a customer by email, phone or id. */
export class ProfileProjection implements Projection {
  readonly name = 'customer-profile';
  readonly tables = ['customer_profiles', 'customer_identities'] as const;
  readonly personalData = true;
  readonly liveGatherMs = 100;

  constructor(private readonly identityKey: Buffer) {}

  async apply(events: readonly CustomerEvent[], { client, table, live, write }: ProjectionTransaction): Promise<void> {
    const profiles = table('customer_profiles');
    const identities = table('customer_identities');
    const { entries, changed } = await foldCustomers<CustomerProfile, never>(
      events,
      {
        evolve: (profile, event) => ({ state: evolveProfile(profile, event) }),
        merge: (user, anonymous, link, anonymousCustomerId) => ({
          state: mergeProfiles(user ?? initialProfile(link.customerId), anonymous ?? initialProfile(anonymousCustomerId), link),
        }),
        markMerged: (anonymous, anonymousCustomerId, userId) => markProfileMerged(anonymous ?? initialProfile(anonymousCustomerId), userId),
      },
      async (customerIds) => {
        const { rows } = await client.query<{ customer_id: string; profile: CustomerProfile; merged_into: string | null }>(
          `SELECT customer_id, profile, merged_into FROM ${profiles} WHERE customer_id = ANY($1::text[])`,
          [customerIds],
        );
        return new Map(rows.map((row): [string, CustomerEntry<CustomerProfile>] => [row.customer_id, { state: row.profile, mergedInto: row.merged_into }]));
      },
    );

    const written = [...changed].map((customerId) => entries.get(customerId)!.state!);
    write(
      `INSERT INTO ${profiles} (customer_id, profile, merged_into, forgotten, first_seen_at, last_seen_at)
       SELECT p->>'customerId', p, p->>'mergedInto', (p->>'forgotten')::boolean, (p->>'firstSeenAt')::timestamptz, (p->>'lastSeenAt')::timestamptz
       FROM jsonb_array_elements($1::jsonb) AS p
       ON CONFLICT (customer_id) DO UPDATE SET profile = EXCLUDED.profile, merged_into = EXCLUDED.merged_into,
         forgotten = EXCLUDED.forgotten, first_seen_at = EXCLUDED.first_seen_at, last_seen_at = EXCLUDED.last_seen_at`,
      [JSON.stringify(written)],
    );

    // A merged visitor or a forgotten customer is found by none of its identities any more.
    const indexed = written.filter((profile) => !profile.mergedInto && !profile.forgotten);
    const hashes = indexed.flatMap((profile) => profile.identities.map((identity) => [identityHash(this.identityKey, identity), profile.customerId]));
    write(`DELETE FROM ${identities} WHERE customer_id = ANY($1::text[])`, [[...changed]]);
    write(
      `INSERT INTO ${identities} (identity_hash, customer_id)
       SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`,
      [hashes.map(([hash]) => hash), hashes.map(([, customerId]) => customerId)],
    );

    if (live) {
      write(`SELECT pg_notify('${CUSTOMER_UPDATED_CHANNEL}', customer_id) FROM unnest($1::text[]) AS customer_id`, [
        indexed.map((profile) => profile.customerId),
      ]);
    }
  }
}
