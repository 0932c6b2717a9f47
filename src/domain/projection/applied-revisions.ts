/**
 * The highest revision applied from each source stream, keyed by the stream's customer id, as
 * `[stream, revision]` pairs in code-point order of the stream: `[["anon:abc", 4], ["u-42", 17]]`.
 * A projection that folds several streams (a user's own and the anonymous ones linked to it) uses it
 * to apply each event exactly once. Pairs, not an object keyed by customer id: the JavaScript engine
 * gives every object with a new set of keys a shape of its own, and a million customers' ids as keys
 * made parsing and copying these records ten times as slow as a short list.
 */
export type AppliedRevisions = readonly (readonly [stream: string, revision: number])[];

/** What a stored state may hold: the pairs, or the object that states written before them kept. */
export type StoredRevisions = AppliedRevisions | Readonly<Record<string, number>>;

const byStream = ([a]: readonly [string, number], [b]: readonly [string, number]) => compareKeys(a, b);

/** The pairs, whichever form the state was stored in. */
function pairsOf(applied: StoredRevisions): AppliedRevisions {
  if (Array.isArray(applied)) return applied as AppliedRevisions;
  return Object.entries(applied).sort(byStream);
}

/** The highest revision applied from `stream`, if any. */
export function appliedRevisionOf(applied: StoredRevisions, stream: string): number | undefined {
  if (!Array.isArray(applied)) return ownValue(applied as Record<string, number>, stream);
  for (const [candidate, revision] of applied as AppliedRevisions) if (candidate === stream) return revision;
  return undefined;
}

/**
 * Each stream is delivered in revision order (both event stores keep it in the global order), so an
 * event at or below the highest revision applied from its stream has been applied already.
 */
export function alreadyApplied(applied: StoredRevisions, event: { customerId: string; revision: number }): boolean {
  const highest = appliedRevisionOf(applied, event.customerId);
  return highest !== undefined && event.revision <= highest;
}

export function withApplied(applied: StoredRevisions, event: { customerId: string; revision: number }): AppliedRevisions {
  const pairs = pairsOf(applied);
  let at = 0;
  while (at < pairs.length && compareKeys(pairs[at]![0], event.customerId) < 0) at++;
  const present = at < pairs.length && pairs[at]![0] === event.customerId;
  if (present && pairs[at]![1] >= event.revision) return pairs;
  const next = pairs.slice();
  // In place of the stream's pair, or inserted where the order puts it.
  next.splice(at, present ? 1 : 0, [event.customerId, event.revision]);
  return next;
}

export function unionOfRevisions(first: StoredRevisions, second: StoredRevisions): AppliedRevisions {
  const union = new Map(pairsOf(first));
  for (const [stream, revision] of pairsOf(second)) union.set(stream, Math.max(revision, union.get(stream) ?? -1));
  return [...union].sort(byStream);
}

/** True when everything `other` applied is applied in `applied` too: folding `other` in would count it twice. */
export function coversRevisions(applied: StoredRevisions, other: StoredRevisions): boolean {
  return pairsOf(other).every(([stream, revision]) => (appliedRevisionOf(applied, stream) ?? -1) >= revision);
}

/** The pairs in stream order, so the stored JSON is the same whatever order the streams arrived in. */
export function sortedRevisions(applied: StoredRevisions): AppliedRevisions {
  const pairs = pairsOf(applied);
  return inStrictOrder(pairs, byStream) ? pairs : [...pairs].sort(byStream);
}

/** The record with its keys in code-point order: itself when they already are. */
export function sortedByKey<Value>(record: Record<string, Value>): Record<string, Value> {
  const keys = Object.keys(record);
  if (inStrictOrder(keys, compareKeys)) return record;
  const copy: Record<string, Value> = {};
  for (const key of keys.sort(compareKeys)) setOwn(copy, key, record[key]!);
  return copy;
}

/** True when each item comes strictly after the one before it: sorted, without duplicates. */
export function inStrictOrder<Item>(items: readonly Item[], compare: (a: Item, b: Item) => number): boolean {
  for (let index = 1; index < items.length; index++) if (compare(items[index - 1]!, items[index]!) >= 0) return false;
  return true;
}

export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A record's own value for a key that comes from producers (a customer id, a trait, a ticket id):
 * "constructor" or "toString" must not read Object.prototype's members.
 */
export function ownValue<Value>(record: Readonly<Record<string, Value>>, key: string): Value | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Sets an own property whatever the key: assigning "__proto__" would replace the prototype instead. */
export function setOwn<Value>(record: Record<string, Value>, key: string, value: Value): void {
  // Only "__proto__" is an accessor on Object.prototype; defining every key would turn records into slow dictionaries.
  if (key === '__proto__') Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  else record[key] = value;
}
