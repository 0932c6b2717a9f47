import type { CustomerEvent } from '../../domain/customer-event.js';
import type { Projection, ProjectionTransaction } from '../projection.js';

/**
 * An index of each customer stream by the time its events happened, so `Customer.timeline` pages
 * oldest first by occurredAt however late events arrived; the events are read from the log.
 */
export class TimelineProjection implements Projection {
  readonly name = 'timeline';
  readonly tables = ['timeline_entries'] as const;
  readonly appendOnlyTables = ['timeline_entries'];
  readonly personalData = false;
  readonly liveGatherMs = 100;

  async apply(events: readonly CustomerEvent[], { client, table, write }: ProjectionTransaction): Promise<void> {
    write(
      `INSERT INTO ${table('timeline_entries')} (customer_id, revision, occurred_at, event_id)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::uuid[])
       ON CONFLICT DO NOTHING`,
      [events.map((event) => event.customerId), events.map((event) => event.revision), events.map((event) => event.occurredAt), events.map((event) => event.id)],
    );
  }
}
