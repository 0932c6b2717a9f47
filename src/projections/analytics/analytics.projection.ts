import { pseudonymizedEvent } from '../../domain/analytics/pseudonymized-event.js';
import type { EventCatalog } from '../../domain/catalog/index.js';
import type { CustomerEvent } from '../../domain/customer-event.js';
import type { Projection, ProjectionTransaction } from '../projection.js';

/**
 * Pseudonymized analytics: events keyed by an HMAC pseudonym with only catalog-declared,
 * non-personal properties, and daily activity per category and type. It never sees personal data:
 * events reach it sealed and are pseudonymized before anything is written. The journeys' side for
 * funnels (stages, transitions) is the journey projection's, under the same pseudonyms.
 */
export class AnalyticsProjection implements Projection {
  readonly name = 'analytics';
  readonly tables = ['analytics_events', 'analytics_daily_activity', 'analytics_daily_customers'] as const;
  readonly appendOnlyTables = ['analytics_events'];
  readonly personalData = false;
  readonly liveGatherMs = 100;

  constructor(
    private readonly pseudonymKey: Buffer,
    private readonly catalog: EventCatalog,
  ) {}

  async apply(events: readonly CustomerEvent[], { table, write }: ProjectionTransaction): Promise<void> {
    const pseudonymized = events.map((event) => pseudonymizedEvent(event, this.pseudonymKey, this.catalog));
    write(
      `WITH inserted AS (
         INSERT INTO ${table('analytics_events')} (event_id, pseudonym, occurred_at, day, category, event_type, channel, properties)
         SELECT (e->>'id')::uuid, e->>'customerId', (e->>'occurredAt')::timestamptz, ((e->>'occurredAt')::timestamptz AT TIME ZONE 'UTC')::date,
                e->>'category', e->>'type', e->>'channel', e->'properties'
         FROM jsonb_array_elements($1::jsonb) AS e
         ON CONFLICT DO NOTHING
         RETURNING day, category, event_type, pseudonym),
       first_today AS (
         INSERT INTO ${table('analytics_daily_customers')} (day, category, event_type, pseudonym)
         SELECT DISTINCT day, category, event_type, pseudonym FROM inserted
         ON CONFLICT DO NOTHING
         RETURNING day, category, event_type),
       events AS (SELECT day, category, event_type, count(*) AS events FROM inserted GROUP BY 1, 2, 3),
       customers AS (SELECT day, category, event_type, count(*) AS customers FROM first_today GROUP BY 1, 2, 3)
       INSERT INTO ${table('analytics_daily_activity')} (day, category, event_type, events, customers)
       SELECT day, category, event_type, events, coalesce(customers, 0) FROM events LEFT JOIN customers USING (day, category, event_type)
       ON CONFLICT (day, category, event_type) DO UPDATE
         SET events = ${table('analytics_daily_activity')}.events + EXCLUDED.events,
             customers = ${table('analytics_daily_activity')}.customers + EXCLUDED.customers`,
      [JSON.stringify(pseudonymized.map(({ id, customerId, occurredAt, category, type, channel, properties }) => ({ id, customerId, occurredAt, category, type, channel, properties })))],
    );
  }
}
