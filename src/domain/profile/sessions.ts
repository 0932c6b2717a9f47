import { laterOf, millisOf } from '../projection/instants.js';

/** A gap of more than this between two activities (by occurredAt) starts a new session. */
export const SESSION_GAP_MS = 30 * 60 * 1000;

/**
 * At most this many session windows are kept, the latest ones by time. Older windows are folded into
 * `archived` (still counted); an activity arriving so late that it falls at or before the archived
 * windows (plus one gap) is taken to belong to them, so only such very late arrivals are approximate.
 * 100 windows keep a profile's sessions under ~10 kB of JSON.
 */
export const MAX_SESSION_WINDOWS = 100;

/** One session: its first and last activity, as ISO instants (normalized to milliseconds, UTC). */
export interface SessionWindow {
  from: string;
  to: string;
}

/** A customer's sessions as merged intervals, so that activities may arrive in any order. */
export interface Sessions {
  /** Disjoint, sorted by time, each more than one gap apart from the next. */
  windows: SessionWindow[];
  /** Sessions dropped from `windows` to respect the cap, still counted. */
  archived: number;
  /** End of the latest archived session, or null when none was archived. */
  archivedUntil: string | null;
}

export function noSessions(): Sessions {
  return { windows: [], archived: 0, archivedUntil: null };
}

export function sessionCount(sessions: Sessions): number {
  return sessions.archived + sessions.windows.length;
}

/** The sessions once an activity at `at` is known, wherever in time it falls. */
export function withActivity(sessions: Sessions, at: string): Sessions {
  const instant = millisOf(at);
  if (sessions.archivedUntil !== null && instant <= millisOf(sessions.archivedUntil) + SESSION_GAP_MS) return sessions;
  const last = sessions.windows.at(-1);
  // Activities mostly arrive in time order: one at or after the latest session's start touches that session only.
  if (last && instant >= millisOf(last.from)) return withLatestActivity(sessions, last, instant);
  return capped({ ...sessions, windows: coalesce([...sessions.windows, { from: at, to: at }]) });
}

/** `withActivity` for an instant at or after the start of the latest window (the earlier ones end more than a gap before it). */
function withLatestActivity(sessions: Sessions, last: SessionWindow, instant: number): Sessions {
  const lastTo = millisOf(last.to);
  if (instant <= lastTo) return sessions;
  const earlier = sessions.windows.slice(0, -1);
  const to = new Date(instant).toISOString();
  if (instant - lastTo <= SESSION_GAP_MS) return { ...sessions, windows: [...earlier, { from: last.from, to }] };
  return capped({ ...sessions, windows: [...sessions.windows, { from: to, to }] });
}

/** The sessions of two customers folded into one: a visit that spans both becomes one session. */
export function mergeSessions(first: Sessions, second: Sessions): Sessions {
  const archivedUntil = laterOf(first.archivedUntil, second.archivedUntil);
  const windows = coalesce([...first.windows, ...second.windows]);
  // Keep the invariant that every kept window ends after the archive, so a late activity meets one or the other.
  const stillKept = windows.filter(({ to }) => archivedUntil === null || millisOf(to) > millisOf(archivedUntil));
  return capped({
    windows: stillKept,
    archived: first.archived + second.archived + (windows.length - stillKept.length),
    archivedUntil,
  });
}

function coalesce(windows: SessionWindow[]): SessionWindow[] {
  const sorted = windows
    .map(({ from, to }) => ({ from: millisOf(from), to: millisOf(to) }))
    .sort((a, b) => a.from - b.from || a.to - b.to);
  const merged: Array<{ from: number; to: number }> = [];
  for (const window of sorted) {
    const last = merged.at(-1);
    if (last && window.from - last.to <= SESSION_GAP_MS) last.to = Math.max(last.to, window.to);
    else merged.push({ ...window });
  }
  return merged.map(({ from, to }) => ({ from: new Date(from).toISOString(), to: new Date(to).toISOString() }));
}

function capped(sessions: Sessions): Sessions {
  const excess = sessions.windows.length - MAX_SESSION_WINDOWS;
  if (excess <= 0) return sessions;
  const dropped = sessions.windows.slice(0, excess);
  return {
    windows: sessions.windows.slice(excess),
    archived: sessions.archived + excess,
    archivedUntil: dropped.reduce<string | null>((until, { to }) => laterOf(until, to), sessions.archivedUntil),
  };
}

