import {
  MAX_SESSION_WINDOWS,
  SESSION_GAP_MS,
  mergeSessions,
  noSessions,
  sessionCount,
  withActivity,
  type Sessions,
} from './sessions.js';

const start = Date.UTC(2025, 2, 1, 10);
const minute = (minutes: number) => new Date(start + minutes * 60_000).toISOString();
const activities = (sessions: Sessions, minutes: number[]) =>
  minutes.reduce((current, at) => withActivity(current, minute(at)), sessions);

describe('sessions', () => {
  it('starts a new session after a gap of more than 30 minutes, not at exactly 30', () => {
    expect(SESSION_GAP_MS).toBe(30 * 60_000);
    const sessions = activities(noSessions(), [0, 10, 40, 71]);
    expect(sessions.windows).toEqual([
      { from: minute(0), to: minute(40) },
      { from: minute(71), to: minute(71) },
    ]);
    expect(sessionCount(sessions)).toBe(2);
  });

  it('counts the same sessions whatever order the activities arrive in', () => {
    const inOrder = activities(noSessions(), [0, 20, 45, 100, 125, 300]);
    const permutations = [
      [300, 0, 125, 45, 100, 20],
      [45, 300, 20, 125, 0, 100],
      [125, 100, 300, 45, 20, 0],
    ];
    for (const order of permutations) expect(activities(noSessions(), order)).toEqual(inOrder);
    expect(sessionCount(inOrder)).toBe(3);
  });

  it('gives the sessions of the sorted activities grouped by gap, whatever order they arrive in (200 random cases)', () => {
    let seed = 20261126;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 200; round++) {
      // Mostly in time order with late arrivals, as producers send them; whole minutes so gaps of exactly 30 occur.
      const count = 1 + Math.floor(random() * 40);
      const minutes = Array.from({ length: count }, () => Math.floor(random() * 600));
      const arrival = minutes.map((at, index) => ({ at, key: random() < 0.8 ? at : index * 15 * random() })).sort((a, b) => a.key - b.key);
      const sessions = activities(noSessions(), arrival.map(({ at }) => at));
      const expected: { from: string; to: string }[] = [];
      for (const at of [...minutes].sort((a, b) => a - b)) {
        const last = expected.at(-1);
        if (last && at - (Date.parse(last.to) - start) / 60_000 <= 30) last.to = minute(at);
        else expected.push({ from: minute(at), to: minute(at) });
      }
      expect(sessions.windows).toEqual(expected);
    }
  });

  it('joins two sessions when a late activity falls in the gap between them', () => {
    const twoSessions = activities(noSessions(), [0, 50]);
    expect(sessionCount(twoSessions)).toBe(2);
    expect(activities(twoSessions, [25]).windows).toEqual([{ from: minute(0), to: minute(50) }]);
  });

  it('treats instants of different precision as the same instant', () => {
    const sessions = withActivity(withActivity(noSessions(), '2025-03-01T10:00:00Z'), '2025-03-01T10:00:00.000Z');
    expect(sessions.windows).toEqual([{ from: '2025-03-01T10:00:00.000Z', to: '2025-03-01T10:00:00.000Z' }]);
  });

  it('merges two customers sessions so that a visit spanning both is one session', () => {
    const anonymous = activities(noSessions(), [0, 20]);
    const user = activities(noSessions(), [45, 200]);
    const merged = mergeSessions(user, anonymous);
    expect(merged.windows).toEqual([
      { from: minute(0), to: minute(45) },
      { from: minute(200), to: minute(200) },
    ]);
    expect(mergeSessions(anonymous, user)).toEqual(merged);
  });

  it(`keeps at most ${MAX_SESSION_WINDOWS} windows and still counts the older sessions`, () => {
    const hourly = Array.from({ length: MAX_SESSION_WINDOWS + 5 }, (_, hour) => hour * 60);
    const sessions = activities(noSessions(), hourly);
    expect(sessions.windows).toHaveLength(MAX_SESSION_WINDOWS);
    expect(sessions.archived).toBe(5);
    expect(sessions.archivedUntil).toBe(minute(4 * 60));
    expect(sessionCount(sessions)).toBe(MAX_SESSION_WINDOWS + 5);
    // Very late activity at or before the archive is taken to belong to it.
    expect(withActivity(sessions, minute(2 * 60 + 30))).toBe(sessions);
    expect(sessionCount(withActivity(sessions, minute((MAX_SESSION_WINDOWS + 10) * 60)))).toBe(MAX_SESSION_WINDOWS + 6);
  });

  it('keeps the cap and the count when merging', () => {
    const even = activities(noSessions(), Array.from({ length: 80 }, (_, index) => index * 120));
    const odd = activities(noSessions(), Array.from({ length: 80 }, (_, index) => index * 120 + 60));
    const merged = mergeSessions(even, odd);
    expect(merged.windows).toHaveLength(MAX_SESSION_WINDOWS);
    expect(sessionCount(merged)).toBe(160);
  });
});
