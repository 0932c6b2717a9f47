import type { CustomerEvent } from '../../domain/customer-event.js';
import { identityHash, normalizeIdentity, type Identity } from '../../domain/identity/identity.js';
import {
  canonicalProfile,
  initialProfile,
  joinedProfile,
  markProfileMerged,
  mergeProfiles,
  profileReadsSealed,
  profileWith,
  splitProfile,
  type CustomerProfile,
  type ProfileBookkeeping,
  type ServedProfile,
} from '../../domain/profile/index.js';
import type { Projection, ProjectionTransaction } from '../projection.js';
import { foldCustomers, type CustomerEntry } from '../runner/customer-fold.js';

export const CUSTOMER_UPDATED_CHANNEL = 'trailmap_customer_updated';

/** The unified customer profile, and the identity index that finds a customer by email, phone or id. */
export class ProfileProjection implements Projection {
  readonly name = 'customer-profile';
  readonly tables = ['customer_profiles', 'customer_identities'] as const;
  readonly personalData = profileReadsSealed;
  readonly liveGatherMs = 100;

  constructor(private readonly identityKey: Buffer) {}

  async apply(events: readonly CustomerEvent[], { client, table, live, write }: ProjectionTransaction): Promise<void> {
    const profiles = table('customer_profiles');
    const identities = table('customer_identities');
    /** The identities each loaded customer is found by now: the index changes only where they differ after the batch. */
    const indexedBefore = new Map<string, Map<string, Identity>>();
    const { entries, changed } = await foldCustomers<CustomerProfile, never>(
      events,
      {
        // Put in canonical form once, when written.
        evolve: (profile, event) => ({ state: profileWith(profile, event) }),
        merge: (user, anonymous, link, anonymousCustomerId) => ({
          state: mergeProfiles(user ?? initialProfile(link.customerId), anonymous ?? initialProfile(anonymousCustomerId), link),
        }),
        markMerged: (anonymous, anonymousCustomerId, userId) => markProfileMerged(anonymous ?? initialProfile(anonymousCustomerId), userId),
      },
      async (customerIds) => {
        const { rows } = await client.query<{ customer_id: string; profile: ServedProfile; bookkeeping: ProfileBookkeeping; merged_into: string | null }>(
          `SELECT customer_id, profile, bookkeeping, merged_into FROM ${profiles} WHERE customer_id = ANY($1::text[])`,
          [customerIds],
        );
        for (const row of rows) indexedBefore.set(row.customer_id, indexedIdentities(row.profile));
        return new Map(
          rows.map((row): [string, CustomerEntry<CustomerProfile>] => [
            row.customer_id,
            { state: joinedProfile(row.profile, row.bookkeeping), mergedInto: row.merged_into },
          ]),
        );
      },
    );

    const written = [...changed].map((customerId) => canonicalProfile(entries.get(customerId)!.state!));
    const parts = written.map(splitProfile);
    // Column by column, the profiles' two parts as a JSON array each: PostgreSQL splits them and stores each
    // as the text it is (json); as arrays of texts, node-pg would escape every quote and PostgreSQL unescape it.
    write(
      `INSERT INTO ${profiles} (customer_id, profile, bookkeeping, merged_into, forgotten, first_seen_at, last_seen_at)
       SELECT * FROM ROWS FROM (unnest($1::text[]), json_array_elements($2::json), json_array_elements($3::json), unnest($4::text[]),
                                unnest($5::boolean[]), unnest($6::timestamptz[]), unnest($7::timestamptz[]))
       ON CONFLICT (customer_id) DO UPDATE SET profile = EXCLUDED.profile, bookkeeping = EXCLUDED.bookkeeping, merged_into = EXCLUDED.merged_into,
         forgotten = EXCLUDED.forgotten, first_seen_at = EXCLUDED.first_seen_at, last_seen_at = EXCLUDED.last_seen_at`,
      [
        written.map((profile) => profile.customerId),
        JSON.stringify(parts.map(([served]) => served)),
        JSON.stringify(parts.map(([, bookkeeping]) => bookkeeping)),
        written.map((profile) => profile.mergedInto ?? null),
        written.map((profile) => profile.forgotten),
        written.map((profile) => profile.firstSeenAt),
        written.map((profile) => profile.lastSeenAt),
      ],
    );

    // Only the identities a customer gained or lost are written: rewriting them all per batch left a dead
    // index entry per identity per batch, which every later insert of the same key stepped over.
    const removed: [string, string][] = [];
    const added: [string, string][] = [];
    for (const profile of written) {
      const before = indexedBefore.get(profile.customerId) ?? new Map<string, Identity>();
      const after = indexedIdentities(profile);
      const row = (identity: Identity): [string, string] => [identityHash(this.identityKey, identity), profile.customerId];
      for (const [key, identity] of before) if (!after.has(key)) removed.push(row(identity));
      for (const [key, identity] of after) if (!before.has(key)) added.push(row(identity));
    }
    if (removed.length > 0) {
      write(`DELETE FROM ${identities} WHERE (identity_hash, customer_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, pairColumns(removed));
    }
    if (added.length > 0) {
      write(`INSERT INTO ${identities} (identity_hash, customer_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, pairColumns(added));
    }

    if (live) {
      write(`SELECT pg_notify('${CUSTOMER_UPDATED_CHANNEL}', customer_id) FROM unnest($1::text[]) AS customer_id`, [
        written.filter(isIndexed).map((profile) => profile.customerId),
      ]);
    }
  }
}

/** A merged visitor or a forgotten customer is found by none of its identities. */
const isIndexed = (profile: ServedProfile) => !profile.mergedInto && !profile.forgotten;

/** By normalized value: two spellings of one identity are one row of the index. */
function indexedIdentities(profile: ServedProfile): Map<string, Identity> {
  if (!isIndexed(profile)) return new Map();
  return new Map(profile.identities.map((identity) => normalizeIdentity(identity)).map((identity) => [`${identity.kind}\u0000${identity.value}`, identity]));
}

function pairColumns(pairs: [string, string][]): [string[], string[]] {
  return [pairs.map(([hash]) => hash), pairs.map(([, customerId]) => customerId)];
}
