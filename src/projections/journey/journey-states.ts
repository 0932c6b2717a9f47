import type pg from 'pg';
import { isAfter } from '../../domain/projection/index.js';
import { evolveJourney, markJourneyMerged, mergeJourneys, openCartSince, type JourneyState, type StageTransition } from '../../domain/journey/index.js';
import type { CustomerEntry, FoldRules } from '../runner/customer-fold.js';

/** The journey fold of the journey projection. */
export const journeyRules: FoldRules<JourneyState, StageTransition> = {
  evolve: (state, event) => {
    const step = evolveJourney(state, event);
    return { state: step.state, output: step.transition };
  },
  merge: (user, anonymous, link) => {
    const step = mergeJourneys(user, anonymous, link);
    return { state: step.state, output: step.transition };
  },
  markMerged: (anonymous, _anonymousCustomerId, userId) => (anonymous ? markJourneyMerged(anonymous, userId) : null),
};

/** Loads customers' journey states from `table` (the live one or its rebuild twin). */
export function journeyLoader(client: pg.ClientBase, table: string) {
  return async (customerIds: string[]) => {
    const { rows } = await client.query<{ customer_id: string; state: JourneyState | null; merged_into: string | null }>(
      `SELECT customer_id, state, merged_into FROM ${table} WHERE customer_id = ANY($1::text[])`,
      [customerIds],
    );
    return new Map(rows.map((row): [string, CustomerEntry<JourneyState>] => [row.customer_id, { state: row.state, mergedInto: row.merged_into }]));
  };
}

export function journeyRow(key: string, { state, mergedInto }: CustomerEntry<JourneyState>) {
  const cartSince = state ? openCartSince(state.cart) : null;
  const awaitingDormancy =
    state !== null && mergedInto === null && state.stage !== 'DORMANT' && state.lastActivityAt !== null &&
    (state.dormancyRecordedFor === null || isAfter(state.lastActivityAt, state.dormancyRecordedFor));
  return {
    key,
    state,
    stage: state?.stage ?? null,
    enteredAt: state?.enteredAt ?? null,
    mergedInto,
    dormancyDueFrom: awaitingDormancy ? state.lastActivityAt : null,
    abandonmentDueFrom: mergedInto === null && cartSince !== null && cartSince !== state!.cart.abandonmentRecordedFor ? cartSince : null,
  };
}

/** The rows of `journeyRow` column by column, the states as one JSON array (as the profile's: see ProfileProjection). */
export function journeyColumns(rows: readonly ReturnType<typeof journeyRow>[]) {
  return [
    rows.map((row) => row.key),
    JSON.stringify(rows.map((row) => row.state)),
    rows.map((row) => row.stage),
    rows.map((row) => row.enteredAt),
    rows.map((row) => row.mergedInto),
    rows.map((row) => row.dormancyDueFrom),
    rows.map((row) => row.abandonmentDueFrom),
  ];
}
