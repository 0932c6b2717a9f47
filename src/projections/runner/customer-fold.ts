import type { CustomerEvent } from '../../domain/customer-event.js';
import { anonymousCustomerId } from '../../domain/identity/identity.js';
import { linkedAnonymousId } from '../../domain/profile/index.js';

/** A customer's state in a projection, or where it went: an anonymous visitor merged into a user. */
export interface CustomerEntry<State> {
  state: State | null;
  mergedInto: string | null;
}

export interface FoldRules<State, Output> {
  evolve(state: State | null, event: CustomerEvent): { state: State; output?: Output };
  /** Folds an anonymous visitor's state into the user's, on the link event. */
  merge(user: State | null, anonymous: State | null, link: CustomerEvent, anonymousCustomerId: string): { state: State; output?: Output };
  /** The anonymous visitor's state once merged into `userId` (null when it had none yet). */
  markMerged(anonymous: State | null, anonymousCustomerId: string, userId: string): State | null;
}

export interface FoldResult<State, Output> {
  entries: Map<string, CustomerEntry<State>>;
  /** Customers whose entry changed, to write back. */
  changed: Set<string>;
  outputs: { output: Output; event: CustomerEvent }[];
}

/**
 * Folds a batch of events (log order) into per-customer states, loading each state once. An
 * `Identity Linked` event merges the anonymous visitor into the user; later events of that
 * visitor (they can still arrive) apply to the user.
 */
export async function foldCustomers<State, Output>(
  events: readonly CustomerEvent[],
  rules: FoldRules<State, Output>,
  load: (customerIds: string[]) => Promise<Map<string, CustomerEntry<State>>>,
): Promise<FoldResult<State, Output>> {
  const entries = new Map<string, CustomerEntry<State>>();
  const ensureLoaded = async (customerIds: Iterable<string>) => {
    let wanted = [...new Set(customerIds)].filter((customerId) => !entries.has(customerId));
    while (wanted.length > 0) {
      const loaded = await load(wanted);
      for (const customerId of wanted) entries.set(customerId, loaded.get(customerId) ?? { state: null, mergedInto: null });
      wanted = [...loaded.values()].flatMap((entry) => (entry.mergedInto && !entries.has(entry.mergedInto) ? [entry.mergedInto] : []));
    }
  };
  await ensureLoaded(events.flatMap((event) => [event.customerId, ...linkedCustomer(event)]));

  const changed = new Set<string>();
  const outputs: FoldResult<State, Output>['outputs'] = [];
  for (const event of events) {
    let target = event.customerId;
    const own = entries.get(target)!;
    if (own.mergedInto) {
      target = own.mergedInto;
      await ensureLoaded([target]);
    }
    const current = entries.get(target)!.state;
    const [anonymous] = linkedCustomer(event).filter((customerId) => customerId !== target);
    let step: { state: State; output?: Output };
    const anonymousEntry = anonymous ? entries.get(anonymous)! : undefined;
    if (anonymous && anonymousEntry && anonymousEntry.mergedInto === null) {
      step = rules.merge(current, anonymousEntry.state, event, anonymous);
      entries.set(anonymous, { state: rules.markMerged(anonymousEntry.state, anonymous, target), mergedInto: target });
      changed.add(anonymous);
    } else {
      step = rules.evolve(current, event);
    }
    entries.set(target, { state: step.state, mergedInto: null });
    changed.add(target);
    if (step.output !== undefined) outputs.push({ output: step.output, event });
  }
  return { entries, changed, outputs };
}

function linkedCustomer(event: CustomerEvent): string[] {
  if (event.type !== 'Identity Linked') return [];
  const anonymousId = linkedAnonymousId(event);
  return anonymousId ? [anonymousCustomerId(anonymousId)] : [];
}
