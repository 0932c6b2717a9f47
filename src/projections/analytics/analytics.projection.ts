import { pseudonymizedEvent } from '../../domain/analytics/pseudonymized-event.js';
import type { EventCatalog } from '../../domain/catalog/index.js';
import type { CustomerEvent } from '../../domain/customer-event.js';
import type { Projection, ProjectionTransaction } from '../projection.js';
import { foldCustomers } from '../runner/customer-fold.js';
import { journeyLoader, journeyRow, journeyRules } from '../journey/journey-states.js';

/**
 * Pseudonymized analytics: events keyed by an HMAC pseudonym with only catalog-declared,
 * non-personal properties; daily activity per category and type; stage transitions with the time
 * spent in the previous stage, for funnels. It never sees personal data: events reach it sealed
 * and are pseudonymized before anything is written.
 */
export class AnalyticsProjection implements Projection {
  readonly name = 'analytics';
  readonly tables = ['analytics_events', 'analytics_daily_activity', 'analytics_daily_customers', 'analytics_stage_transitions', 'analytics_journeys'] as const;
  readonly appendOnlyTables = ['analytics_events', 'analytics_stage_transitions'];
  readonly personalData = false;
  readonly liveGatherMs = 100;

  constructor(
    private readonly pseudonymKey: Buffer,
    private readonly catalog: EventCatalog,
  ) {}

  async apply(events: readonly CustomerEvent[], { client, table, write }: ProjectionTransaction): Promise<void> {
    const pseudonymized = events.map((event) => pseudonymizedEvent(event, this.pseudonymKey, this.catalog));
    // Loads and folds before the first write (see ProjectionRunner.applyBatch).
    const journeys = table('analytics_journeys');
    const { entries, changed, outputs } = await foldCustomers(pseudonymized, journeyRules, journeyLoader(client, journeys, 'pseudonym'));
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

    write(
      `INSERT INTO ${journeys} (pseudonym, state, merged_into)
       SELECT r->>'key', r->'state', r->>'mergedInto' FROM jsonb_array_elements($1::jsonb) AS r
       ON CONFLICT (pseudonym) DO UPDATE SET state = EXCLUDED.state, merged_into = EXCLUDED.merged_into`,
      [JSON.stringify([...changed].map((pseudonym) => journeyRow(pseudonym, entries.get(pseudonym)!)))],
    );
    if (outputs.length === 0) return;
    write(
      `INSERT INTO ${table('analytics_stage_transitions')} (pseudonym, event_id, from_stage, to_stage, at, seconds_in_previous)
       SELECT t->>'pseudonym', (t->>'eventId')::uuid, t->>'from', t->>'to', (t->>'at')::timestamptz, (t->>'seconds')::double precision
       FROM jsonb_array_elements($1::jsonb) AS t
       ON CONFLICT DO NOTHING`,
      [
        JSON.stringify(
          outputs.map(({ output, event }) => ({
            pseudonym: output.customerId,
            eventId: event.id,
            from: output.from,
            to: output.to,
            at: output.at,
            seconds: output.secondsInPreviousStage,
          })),
        ),
      ],
    );
  }
}
