import type { CustomerEvent } from '../../domain/customer-event.js';
import { stageChangedNotice } from '../../modules/live/stage-changed-notice.js';
import type { Projection, ProjectionTransaction } from '../projection.js';
import { foldCustomers } from '../runner/customer-fold.js';
import { journeyColumns, journeyLoader, journeyRow, journeyRules } from './journey-states.js';

export const STAGE_CHANGED_CHANNEL = 'trailmap_stage_changed';

/** Each customer's journey stage and its history; every transition is announced in the same transaction. */
export class JourneyProjection implements Projection {
  readonly name = 'journey-stage';
  readonly tables = ['journey_states', 'journey_transitions'] as const;
  readonly appendOnlyTables = ['journey_transitions'];
  readonly personalData = false;
  readonly liveGatherMs = 10;

  async apply(events: readonly CustomerEvent[], { client, table, live, write }: ProjectionTransaction): Promise<void> {
    const states = table('journey_states');
    const { entries, changed, outputs } = await foldCustomers(events, journeyRules, journeyLoader(client, states, 'customer_id'));
    write(
      `INSERT INTO ${states} (customer_id, state, stage, entered_at, merged_into, dormancy_due_from, abandonment_due_from)
       SELECT * FROM ROWS FROM (unnest($1::text[]), json_array_elements($2::json), unnest($3::text[]), unnest($4::timestamptz[]), unnest($5::text[]),
                                unnest($6::timestamptz[]), unnest($7::timestamptz[]))
       ON CONFLICT (customer_id) DO UPDATE SET state = EXCLUDED.state, stage = EXCLUDED.stage, entered_at = EXCLUDED.entered_at,
         merged_into = EXCLUDED.merged_into, dormancy_due_from = EXCLUDED.dormancy_due_from, abandonment_due_from = EXCLUDED.abandonment_due_from`,
      journeyColumns([...changed].map((customerId) => journeyRow(customerId, entries.get(customerId)!))),
    );
    if (outputs.length === 0) return;
    const transitions = outputs.map(({ output, event }) => ({
      customerId: output.customerId,
      eventId: event.id,
      position: event.position,
      from: output.from,
      to: output.to,
      at: output.at,
      eventType: output.eventType,
      secondsInPreviousStage: output.secondsInPreviousStage,
    }));
    write(
      `INSERT INTO ${table('journey_transitions')} (customer_id, event_id, position, from_stage, to_stage, at, event_type, seconds_in_previous)
       SELECT t->>'customerId', (t->>'eventId')::uuid, t->>'position', t->>'from', t->>'to', (t->>'at')::timestamptz, t->>'eventType',
              (t->>'secondsInPreviousStage')::double precision
       FROM jsonb_array_elements($1::jsonb) AS t
       ON CONFLICT DO NOTHING`,
      [JSON.stringify(transitions)],
    );
    if (live) {
      // Delivered on commit only, to every instance that listens: subscriptions never see a rolled-back move.
      // A transition too large for a NOTIFY payload is announced by its key; listeners read the row.
      write(`SELECT pg_notify('${STAGE_CHANGED_CHANNEL}', notice) FROM unnest($1::text[]) AS notice`, [transitions.map(stageChangedNotice)]);
    }
  }
}
