import { setTimeout as sleep } from 'node:timers/promises';
import { v5 as uuidV5 } from 'uuid';
import type { EventCatalog } from '../../domain/catalog/index.js';
import { streamOf } from '../../domain/identity/identity.js';
import {
  cartAbandonmentProperties,
  dormancyProperties,
  dueForCartAbandonment,
  dueForDormancy,
  type JourneyState,
} from '../../domain/journey/index.js';
import type { Database } from '../../modules/database/database.js';
import type { AppendRequest, EventStore, NewEvent } from '../../modules/event-store/event-store.port.js';
import type { Logger } from '../../modules/logging/logger.js';

const SYSTEM_EVENT_NAMESPACE = '6d1f4a52-7f0c-4b8e-8f3a-5c2e9b7d1a40';
const SCAN_LIMIT = 1_000;
/**
 * A backlog (after an import of past activity, thousands of customers are due at once) is recorded a
 * hundred customers an append, with a pause between appends: as one append of a thousand, it reached
 * the projections as one burst that held both cores for over a second, and `customer(id)`s answered at
 * 500 a second waited up to ~200 ms.
 */
const APPEND_CUSTOMERS = 100;
const APPEND_PAUSE_MS = 100;

export interface SchedulerSettings {
  dormantAfterMs: number;
  cartAbandonedAfterMs: number;
}

/**
 * Writes the time-based facts to the log, so that replay never reads the clock: `Customer Went
 * Dormant` and `Cart Abandoned`. Each event's id derives from the activity it covers, so two
 * instances (or a retry) that record the same fact store it once.
 */
export class JourneyScheduler {
  constructor(
    private readonly database: Database,
    private readonly store: EventStore,
    private readonly catalog: EventCatalog,
    private readonly logger: Logger,
    private readonly settings: SchedulerSettings,
  ) {}

  /** One scan at `now`; returns how many system events were recorded. */
  async tick(now: string): Promise<number> {
    const { dormantAfterMs, cartAbandonedAfterMs } = this.settings;
    const { rows } = await this.database.query<{ customer_id: string; state: JourneyState }>(
      // The customers are found by id, then read: a state (json, stored as written) has no equality for UNION to use.
      `SELECT customer_id, state FROM journey_states WHERE customer_id IN (
         (SELECT customer_id FROM journey_states WHERE dormancy_due_from < $1::timestamptz - $2 * interval '1 millisecond' ORDER BY dormancy_due_from LIMIT $4)
         UNION
         (SELECT customer_id FROM journey_states WHERE abandonment_due_from < $1::timestamptz - $3 * interval '1 millisecond' ORDER BY abandonment_due_from LIMIT $4))`,
      [now, dormantAfterMs, cartAbandonedAfterMs, SCAN_LIMIT],
    );
    const appends: AppendRequest[] = [];
    for (const { customer_id: customerId, state } of rows) {
      const events: NewEvent[] = [];
      if (dueForCartAbandonment(state, now, cartAbandonedAfterMs)) {
        const properties = cartAbandonmentProperties(state);
        events.push(this.systemEvent('Cart Abandoned', `cart:${customerId}:${String(properties.last_activity_at)}`, properties, now));
      }
      if (dueForDormancy(state, now, dormantAfterMs)) {
        const properties = dormancyProperties(state, now);
        events.push(this.systemEvent('Customer Went Dormant', `dormant:${customerId}:${String(properties.last_seen_at)}`, properties, now));
      }
      if (events.length > 0) appends.push({ stream: streamOf(customerId), events, expectedRevision: 'any' });
    }
    if (appends.length === 0) return 0;
    let recorded = 0;
    for (let start = 0; start < appends.length; start += APPEND_CUSTOMERS) {
      if (start > 0) await sleep(APPEND_PAUSE_MS);
      const results = await this.store.appendMany(appends.slice(start, start + APPEND_CUSTOMERS));
      recorded += results.flatMap((result) => result.events).filter((event) => !event.duplicate).length;
    }
    this.logger.info({ recorded }, 'scheduler recorded dormancy and cart abandonment events');
    return recorded;
  }

  private systemEvent(type: string, fact: string, properties: Record<string, unknown>, now: string): NewEvent {
    return {
      id: uuidV5(fact, SYSTEM_EVENT_NAMESPACE),
      type,
      data: { properties, traits: {}, context: {} },
      metadata: { occurredAt: now, schemaVersion: this.catalog.get(type)?.version ?? 0, source: 'trailmap' },
    };
  }
}
