import { Inject, Injectable } from '@nestjs/common';
import DataLoader from 'dataloader';
import type { EventCatalog } from '../../domain/catalog/index.js';
import type { CustomerEvent, JourneyStage } from '../../domain/customer-event.js';
import { ValidationFailed } from '../../domain/errors.js';
import { anonymousCustomerId, identityHash, streamOf, type IdentityKind } from '../../domain/identity/identity.js';
import type { CustomerProfile, ServedProfile } from '../../domain/profile/index.js';
import { toCustomerEvents } from '../../projections/runner/customer-events.js';
import { CATALOG, SECRETS } from '../core/core.module.js';
import { Database } from '../database/database.js';
import { EVENT_STORE } from '../event-store/event-store.module.js';
import type { EventStore } from '../event-store/event-store.port.js';
import { KeyVault } from '../privacy/key-vault.js';
import type { Secrets } from '../privacy/secrets.js';
import { decodeCursor, encodeCursor } from './cursor.js';

/**
 * A customer as the API serves it: the fields anyone who may read customers sees, ready for
 * GraphQL's default resolvers, and the profile the personal fields are taken from.
 */
export interface CustomerView {
  id: string;
  profile: ServedProfile;
  stage: JourneyStage;
  stageEnteredAt: string;
  firstSeenAt: string;
  lastSeenAt: string;
  channels: CustomerProfile['channels'];
  metrics: CustomerProfile['metrics'];
  version: number;
  forgotten: boolean;
  /** Read with the customer when it was read alone; a page of customers reads theirs in one batch. */
  stageHistory?: StageTransitionView[];
}

export interface StageTransitionView {
  customerId: string;
  from: JourneyStage | null;
  to: JourneyStage;
  at: Date;
  eventType: string;
}

export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** A page of customers, and the stage they were listed by (their total is counted apart). */
export type CustomerPage = Page<CustomerView> & { stage: JourneyStage | undefined };

export const PAGE_SIZE_LIMIT = 500;

interface CustomerRow {
  customer_id: string;
  /** The served part only: the projection's bookkeeping (sessions, revisions, trait times, tickets) stays in the database. */
  profile: ServedProfile;
  stage: JourneyStage | null;
  entered_at: Date | null;
}

const CUSTOMER_COLUMNS = `p.customer_id, p.profile, j.stage, j.entered_at`;
const CUSTOMER_SOURCE = `customer_profiles p LEFT JOIN journey_states j ON j.customer_id = p.customer_id`;

/** Reads of the customer read models: profiles, identities, stages and timelines. */
@Injectable()
export class CustomersService {
  constructor(
    private readonly database: Database,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CATALOG) private readonly catalog: EventCatalog,
    @Inject(SECRETS) private readonly secrets: Secrets,
    private readonly keys: KeyVault,
  ) {}

  /**
   * Customers asked for by requests that arrive together (in one turn of the event loop) are read in
   * one statement: under load that is one round trip and one execution for several requests, not one
   * each; alone, a request waits for nothing. Not a cache: every read is a fresh one.
   */
  private readonly reads = new DataLoader<string, CustomerView | null>((ids) => this.readCustomers(ids), {
    cache: false,
    batchScheduleFn: (read) => setImmediate(read),
    maxBatchSize: 100,
  });

  /** The unified customer; an anonymous visitor folded into a user is that user. */
  customer(id: string): Promise<CustomerView | null> {
    return this.reads.load(id);
  }

  /**
   * Customers by the ids asked for, in their order, with their stage histories (the support tool's
   * view asks for both: one round trip, not two). A folded visitor's id reads the user it is part of.
   */
  private async readCustomers(ids: readonly string[]): Promise<(CustomerView | null)[]> {
    // One customer (every read but under load) by a statement of its own, which PostgreSQL plans once per
    // connection. For the batch's, whose cost depends on how many ids it holds, it makes a plan on every
    // read (~0.5 ms of its CPU, three times the read itself).
    const one = ids.length === 1;
    const { rows } = await this.database.query<CustomerRow & { requested: string; stage_history: StoredHistory }>(
      `SELECT r.requested, ${CUSTOMER_COLUMNS}, ${stageHistoryOf('p.customer_id')} AS stage_history
       FROM ${one ? '(VALUES ($1::text))' : 'unnest($1::text[])'} AS r(requested)
       JOIN customer_profiles p ON p.customer_id = coalesce((SELECT merged_into FROM customer_profiles WHERE customer_id = r.requested), r.requested)
       LEFT JOIN journey_states j ON j.customer_id = p.customer_id`,
      [one ? ids[0] : ids],
    );
    const byId = new Map(rows.map((row) => [row.requested, row]));
    return ids.map((id) => {
      const row = byId.get(id);
      return row ? { ...toView(row), stageHistory: toHistory(row.customer_id, row.stage_history) } : null;
    });
  }

  async customerByIdentity(kind: IdentityKind, value: string): Promise<CustomerView | null> {
    if (kind === 'USER_ID') return this.customer(value.trim());
    if (kind === 'ANONYMOUS_ID') {
      const visitor = anonymousCustomerId(value.trim());
      const customer = await this.customer(visitor);
      // A forgotten customer's anonymous ids no longer lead to them.
      return customer && customer.id !== visitor && customer.profile.forgotten ? null : customer;
    }
    const { rows } = await this.database.query<CustomerRow>(
      `SELECT ${CUSTOMER_COLUMNS} FROM customer_identities i JOIN ${CUSTOMER_SOURCE} ON p.customer_id = i.customer_id
       WHERE i.identity_hash = $1 ORDER BY p.last_seen_at DESC NULLS LAST, p.customer_id LIMIT 1`,
      [identityHash(this.secrets.identityKey, { kind, value })],
    );
    return rows[0] ? toView(rows[0]) : null;
  }

  /** Customers by id order, so pages stay stable while new customers arrive. */
  async customers(stage: JourneyStage | undefined, first: number, after: string | undefined): Promise<CustomerPage> {
    const limit = pageSize(first);
    const afterId = after === undefined ? '' : decodeCursor(after, 'after', ['string'])[0]!;
    const { rows } = await this.database.query<CustomerRow>(
      `SELECT ${CUSTOMER_COLUMNS} FROM ${CUSTOMER_SOURCE}
       WHERE p.merged_into IS NULL AND p.customer_id > $1 AND ($2::text IS NULL OR j.stage = $2)
       ORDER BY p.customer_id LIMIT $3`,
      [afterId, stage ?? null, limit + 1],
    );
    return { ...toPage(rows.map(toView), limit, (customer) => [customer.id]), stage };
  }

  /** How many customers there are, in a stage or in all: a count of every one, so made only when asked for. */
  async customerCount(stage: JourneyStage | undefined): Promise<number> {
    const { rows } = await this.database.query<{ count: string }>(
      `SELECT count(*) FROM ${CUSTOMER_SOURCE} WHERE p.merged_into IS NULL AND ($1::text IS NULL OR j.stage = $1)`,
      [stage ?? null],
    );
    return Number(rows[0]!.count);
  }

  /** Stage histories of many customers in one query, oldest first; a folded visitor's history is the customer's. */
  async stageHistories(customerIds: readonly string[]): Promise<StageTransitionView[][]> {
    const { rows } = await this.database.query<{ customer_id: string; stage_history: StoredHistory }>(
      `SELECT requested AS customer_id, ${stageHistoryOf('requested')} AS stage_history FROM unnest($1::text[]) AS requested`,
      [customerIds],
    );
    const byCustomer = new Map(rows.map((row) => [row.customer_id, toHistory(row.customer_id, row.stage_history)]));
    return customerIds.map((customerId) => byCustomer.get(customerId) ?? []);
  }

  /**
   * The customer's whole history from the log, oldest first by when it happened, the anonymous
   * history folded into them included; personal data opened only when `personalData` is allowed.
   */
  async timeline(customerId: string, first: number, after: string | undefined, personalData: boolean): Promise<Page<CustomerEvent>> {
    const limit = pageSize(first);
    const [occurredAt, owner, revision] = after === undefined ? ['-infinity', '', -1] : decodeCursor(after, 'after', ['instant', 'string', 'number']);
    const { rows } = await this.database.query<{ customer_id: string; revision: string }>(
      `SELECT customer_id, revision FROM timeline_entries
       WHERE customer_id IN (SELECT $1 UNION ALL SELECT customer_id FROM customer_profiles WHERE merged_into = $1)
         AND (occurred_at, customer_id, revision) > ($2::timestamptz, $3::text, $4::bigint)
       ORDER BY occurred_at, customer_id, revision LIMIT $5`,
      [customerId, occurredAt, owner, revision, limit + 1],
    );
    const stored = await this.store.readEvents(rows.map((row) => ({ stream: streamOf(row.customer_id), revision: Number(row.revision) })));
    const events = await toCustomerEvents(stored, this.catalog, this.keys, { openPersonalData: personalData });
    return toPage(events, limit, (event) => [event.occurredAt, event.customerId, event.revision]);
  }
}

type StoredHistory = [from: JourneyStage | null, to: JourneyStage, at: string, eventType: string][];

/** A customer's stage history as a JSON array, oldest first: its own transitions and those of the visitors folded into it. */
function stageHistoryOf(customer: string): string {
  return `(SELECT coalesce(json_agg(json_build_array(t.from_stage, t.to_stage, t.at, t.event_type) ORDER BY t.at, t.position), '[]')
           FROM (SELECT ${customer} AS source UNION ALL SELECT customer_id FROM customer_profiles WHERE merged_into = ${customer}) AS s
           CROSS JOIN LATERAL (SELECT * FROM journey_transitions WHERE customer_id = s.source) AS t)`;
}

function toHistory(customerId: string, stored: StoredHistory): StageTransitionView[] {
  return stored.map(([from, to, at, eventType]) => ({ customerId, from, to, at: new Date(at), eventType }));
}

function toView({ customer_id: id, profile, stage, entered_at: enteredAt }: CustomerRow): CustomerView {
  const firstSeenAt = profile.firstSeenAt ?? profile.lastSeenAt ?? new Date(0).toISOString();
  return {
    id,
    profile,
    // A customer the journey projection has not reached yet is where every journey starts.
    stage: stage ?? 'DISCOVERY',
    stageEnteredAt: enteredAt?.toISOString() ?? firstSeenAt,
    firstSeenAt,
    lastSeenAt: profile.lastSeenAt ?? firstSeenAt,
    channels: profile.channels,
    metrics: profile.metrics,
    version: profile.version,
    forgotten: profile.forgotten,
  };
}

function toPage<T>(items: T[], limit: number, cursorOf: (item: T) => (string | number)[]): Page<T> {
  const edges = items.slice(0, limit).map((node) => ({ cursor: encodeCursor(cursorOf(node)), node }));
  return { edges, pageInfo: { hasNextPage: items.length > limit, endCursor: edges.at(-1)?.cursor ?? null } };
}

function pageSize(first: number): number {
  if (!Number.isInteger(first) || first < 0 || first > PAGE_SIZE_LIMIT) {
    throw new ValidationFailed([{ field: 'first', rule: 'range', message: `first must be an integer from 0 to ${PAGE_SIZE_LIMIT}` }]);
  }
  return first;
}
