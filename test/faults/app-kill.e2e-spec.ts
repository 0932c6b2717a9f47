import { performance } from 'node:perf_hooks';
import { generateJourneys } from '../../src/demo/journeys.js';
import { Database } from '../../src/modules/database/database.js';
import { describeAnswer } from '../support/clients.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { checkLog } from '../support/event-log.js';
import { report } from '../support/measure.js';
import { liveAndRebuilt, serverOn, until } from '../support/operations.js';
import { ServerProcess } from '../support/process.js';
import { eventRequests, Traffic } from '../support/traffic.js';

// Mid-projection and mid-rebuild kills are covered by test/projection-recovery.e2e-spec.ts; this one kills mid-ingest.
const journeys = { customers: 200, seed: 31, start: '2026-09-01T00:00:00.000Z', days: 60 };

describe('the server killed with SIGKILL mid-ingest (real processes)', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  const servers: ServerProcess[] = [];
  let traffic: Traffic | undefined;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 2);
  });

  afterAll(async () => {
    await traffic?.stop({ abandon: true });
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    await database?.end();
    await testDatabase?.drop();
  });

  const start = async () => {
    const started = await serverOn(testDatabase.url);
    servers.push(started.server);
    return started;
  };

  /** Connections of any Trailmap process to the test database: none once the killed server's backends are gone. */
  const serverConnections = async () =>
    (
      await database.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'trailmap%'`,
      )
    ).rows[0]!.count;

  it('stores each in-flight request wholly or not at all, and every acknowledged or retried event exactly once', async () => {
    const messages = [...generateJourneys(journeys)];
    const requests = eventRequests(messages, 100);
    let first = await start();
    let url = first.url;
    traffic = new Traffic(requests, { url: () => url, rate: 0, concurrency: 6, retryDelayMs: 200, retryForMs: 90_000 }).start();

    // Kill while several requests are in flight, after a good part of them were acknowledged.
    await until(() => traffic!.acknowledged.size >= 8 && traffic!.inFlightNow().length >= 4, 'requests in flight', 60_000, 1);
    const inFlight = traffic.inFlightNow();
    const acknowledgedBefore = new Set(traffic.acknowledged);
    const killedAt = performance.now();
    await first.server.stop('SIGKILL');

    // Before anything is retried: the killed process's transactions are over, and each request is all or nothing.
    await until(async () => (await serverConnections()) === 0, 'the killed server’s connections to end', 30_000);
    const outcomes = await Promise.all(
      inFlight.map(async (index) => {
        const ids = requests[index]!.storedIds;
        const { rows } = await database.query<{ stored: number }>('SELECT count(*)::int AS stored FROM event_store_events WHERE id = ANY($1::uuid[])', [ids]);
        return { index, stored: rows[0]!.stored, of: ids.length };
      }),
    );
    expect(outcomes.filter(({ stored, of }) => stored !== 0 && stored !== of)).toEqual([]);
    for (const index of acknowledgedBefore) {
      const { rows } = await database.query<{ stored: number }>('SELECT count(*)::int AS stored FROM event_store_events WHERE id = ANY($1::uuid[])', [requests[index]!.storedIds]);
      expect(rows[0]!.stored).toBe(requests[index]!.storedIds.length);
    }

    // A new process takes over; the clients retry what got no answer, with the same bodies.
    const second = await start();
    url = second.url;
    const restartedAt = performance.now();
    await traffic.done;
    expect(traffic.refused.map((attempt) => describeAnswer(attempt.answer))).toEqual([]);
    expect(traffic.acknowledged.size).toBe(requests.length);

    const log = await checkLog(database, requests.flatMap((request) => request.storedIds));
    expect(log).toEqual({ missing: [], duplicated: [], unexpected: [], gaps: [], stored: expect.any(Number) });

    const { live, rebuilt } = await liveAndRebuilt(second.url, database);
    const settledAt = performance.now();
    expect(rebuilt).toEqual(live);
    const { rows } = await database.query<{ events: string; counted: string }>(
      `SELECT (SELECT count(*) FROM event_store_events) AS events,
              (SELECT sum((profile->'metrics'->>'events')::int) FROM customer_profiles WHERE merged_into IS NULL) AS counted`,
    );
    expect(rows[0]!.counted).toBe(rows[0]!.events);

    report('kill -9 mid-ingest', {
      events: messages.length,
      requests: requests.length,
      acknowledgedBeforeKill: acknowledgedBefore.size,
      inFlightAtKill: inFlight.length,
      inFlightStoredWhole: outcomes.filter(({ stored }) => stored > 0).length,
      inFlightStoredNone: outcomes.filter(({ stored }) => stored === 0).length,
      retriedAttempts: traffic.attempts.filter((attempt) => !attempt.acknowledged).length,
      killToRestartedMs: restartedAt - killedAt,
      restartedToAllAcknowledgedAndRebuiltMs: settledAt - restartedAt,
    });
  }, 120_000);
});
