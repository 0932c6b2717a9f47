/**
 * Instants are ISO 8601 strings as producers send them; precisions differ ("…:00Z", "…:00.000Z"),
 * so they are compared by their parsed value, never as strings.
 */
export function millisOf(instant: string): number {
  const known = parsed.get(instant);
  if (known !== undefined) return known;
  const millis = Date.parse(instant);
  if (Number.isNaN(millis)) throw new Error(`Not an ISO 8601 instant: ${instant}`);
  if (parsed.size >= PARSED_LIMIT) parsed.clear();
  parsed.set(instant, millis);
  return millis;
}

/** Folds compare the same few instants (a profile's latest session, its last activity) event after event. */
const parsed = new Map<string, number>();
const PARSED_LIMIT = 10_000;

export function isAfter(instant: string, other: string): boolean {
  if (isCanonical(instant) && isCanonical(other)) return instant > other;
  return millisOf(instant) > millisOf(other);
}

/** `toISOString`'s form (what ingestion stores), whose string order is its time order. */
function isCanonical(instant: string): boolean {
  return instant.length === 24 && instant.charCodeAt(23) === 90 /* Z */ && instant.charCodeAt(19) === 46 /* . */ && instant.charCodeAt(10) === 84 /* T */;
}

/** The later of two instants; on a tie, the first one (so the value already stored stays). */
export function laterOf(current: string | null, candidate: string | null): string | null {
  if (current === null) return candidate;
  if (candidate === null) return current;
  return isAfter(candidate, current) ? candidate : current;
}

/** The earlier of two instants; on a tie, the first one (so the value already stored stays). */
export function earlierOf(current: string | null, candidate: string | null): string | null {
  if (current === null) return candidate;
  if (candidate === null) return current;
  return isAfter(current, candidate) ? candidate : current;
}

export function secondsBetween(from: string, to: string): number {
  return (millisOf(to) - millisOf(from)) / 1000;
}
