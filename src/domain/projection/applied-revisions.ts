/**
 * The highest revision applied from each source stream, keyed by the stream's customer id:
 * `{ "u-42": 17, "anon:abc": 4 }`. A projection that folds several streams (a user's own and the
 * anonymous ones linked to it) uses it to apply each event exactly once.
 */
export type AppliedRevisions = Record<string, number>;

/**
 * Each stream is delivered in revision order (both event stores keep it in the global order), so an
 * event at or below the highest revision applied from its stream has been applied already.
 */
export function alreadyApplied(applied: AppliedRevisions, event: { customerId: string; revision: number }): boolean {
  const highest = ownValue(applied, event.customerId);
  return highest !== undefined && event.revision <= highest;
}

export function withApplied(
  applied: AppliedRevisions,
  event: { customerId: string; revision: number },
): AppliedRevisions {
  const highest = ownValue(applied, event.customerId);
  if (highest !== undefined && highest >= event.revision) return applied;
  const next = { ...applied };
  setOwn(next, event.customerId, event.revision);
  // A stream already present keeps its place, so the order stays sorted.
  return highest === undefined ? sortedRevisions(next) : next;
}

export function unionOfRevisions(first: AppliedRevisions, second: AppliedRevisions): AppliedRevisions {
  const union: AppliedRevisions = { ...first };
  for (const [stream, revision] of Object.entries(second)) setOwn(union, stream, Math.max(revision, ownValue(union, stream) ?? -1));
  return sortedRevisions(union);
}

/** True when everything `other` applied is applied in `applied` too: folding `other` in would count it twice. */
export function coversRevisions(applied: AppliedRevisions, other: AppliedRevisions): boolean {
  return Object.entries(other).every(([stream, revision]) => (ownValue(applied, stream) ?? -1) >= revision);
}

/** Keys in code-point order, so the stored JSON is the same whatever order the streams arrived in. */
export function sortedRevisions(applied: AppliedRevisions): AppliedRevisions {
  return sortedByKey(applied);
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
