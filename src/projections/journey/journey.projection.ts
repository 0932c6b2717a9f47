import { pseudonymOf } from '../../domain/analytics/pseudonymized-event.js';
import type { CustomerEvent } from '../../domain/customer-event.js';
import type { JourneyState } from '../../domain/journey/index.js';
import { stageChangedNotice } from '../../modules/live/stage-changed-notice.js';
import type { Projection, ProjectionTransaction } from '../projection.js';
import { foldCustomers, type CustomerEntry } from '../runner/customer-fold.js';
import { journeyColumns, journeyLoader, journeyRow, journeyRules } from './journey-states.js';

export const STAGE_CHANGED_CHANNEL = 'trailmap_stage_changed';

/**
 * Each customer's journey stage and its history; every transition is announced in the same
 * transaction. The same fold writes the journeys' pseudonymized side for analysts (each person's
 * stage, their merges, the transitions for funnels), keyed by HMAC pseudonyms, so that funnels and
 * stage counts agree with the stage history by construction, and a rule change is one rebuild.
 */
export class JourneyProjection implements Projection {
  readonly name = 'journey-stage';
  readonly tables = ['journey_states', 'journey_transitions', 'analytics_journeys', 'analytics_stage_transitions'] as const;
  readonly appendOnlyTables = ['journey_transitions', 'analytics_stage_transitions'];
  readonly personalData = false;
  readonly liveGatherMs = 10;

  constructor(private readonly pseudonymKey: Buffer) {}

  async apply(events: readonly CustomerEvent[], { client, table, live, write }: ProjectionTransaction): Promise<void> {
    const states = table('journey_states');
    const load = journeyLoader(client, states);
    const before = new Map<string, CustomerEntry<JourneyState>>();
    const { entries, changed, outputs } = await foldCustomers(events, journeyRules, async (customerIds) => {
      const loaded = await load(customerIds);
      for (const [customerId, entry] of loaded) before.set(customerId, entry);
      return loaded;
    });
    write(
      `INSERT INTO ${states} (customer_id, state, stage, entered_at, merged_into, dormancy_due_from, abandonment_due_from)
       SELECT * FROM ROWS FROM (unnest($1::text[]), json_array_elements($2::json), unnest($3::text[]), unnest($4::timestamptz[]), unnest($5::text[]),
                                unnest($6::timestamptz[]), unnest($7::timestamptz[]))
       ON CONFLICT (customer_id) DO UPDATE SET state = EXCLUDED.state, stage = EXCLUDED.stage, entered_at = EXCLUDED.entered_at,
         merged_into = EXCLUDED.merged_into, dormancy_due_from = EXCLUDED.dormancy_due_from, abandonment_due_from = EXCLUDED.abandonment_due_from`,
      journeyColumns([...changed].map((customerId) => journeyRow(customerId, entries.get(customerId)!))),
    );
    // Analysts see a person's stage and merge, not the rest of the state: rewritten only when one of them changes.
    const moved = [...changed].filter((customerId) => !sameStanding(before.get(customerId), entries.get(customerId)!));
    if (moved.length > 0) {
      write(
        `INSERT INTO ${table('analytics_journeys')} (pseudonym, stage, merged_into)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
         ON CONFLICT (pseudonym) DO UPDATE SET stage = EXCLUDED.stage, merged_into = EXCLUDED.merged_into`,
        [
          moved.map((customerId) => this.pseudonym(customerId)),
          moved.map((customerId) => entries.get(customerId)!.state?.stage ?? null),
          moved.map((customerId) => {
            const { mergedInto } = entries.get(customerId)!;
            return mergedInto === null ? null : this.pseudonym(mergedInto);
          }),
        ],
      );
    }
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
    write(
      `INSERT INTO ${table('analytics_stage_transitions')} (pseudonym, event_id, from_stage, to_stage, at, seconds_in_previous)
       SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::double precision[])
       ON CONFLICT DO NOTHING`,
      [
        transitions.map((transition) => this.pseudonym(transition.customerId)),
        transitions.map((transition) => transition.eventId),
        transitions.map((transition) => transition.from),
        transitions.map((transition) => transition.to),
        transitions.map((transition) => transition.at),
        transitions.map((transition) => transition.secondsInPreviousStage),
      ],
    );
    if (live) {
      // Delivered on commit only, to every instance that listens: subscriptions never see a rolled-back move.
      // A transition too large for a NOTIFY payload is announced by its key; listeners read the row.
      write(`SELECT pg_notify('${STAGE_CHANGED_CHANNEL}', notice) FROM unnest($1::text[]) AS notice`, [transitions.map(stageChangedNotice)]);
    }
  }

  private pseudonym(customerId: string): string {
    return pseudonymOf(this.pseudonymKey, customerId);
  }
}

/** Whether what analysts see of a customer's journey (the stage, whom they were merged into) is unchanged; a customer not stored yet has changed. */
function sameStanding(before: CustomerEntry<JourneyState> | undefined, after: CustomerEntry<JourneyState>): boolean {
  return before !== undefined && (before.state?.stage ?? null) === (after.state?.stage ?? null) && before.mergedInto === after.mergedInto;
}
