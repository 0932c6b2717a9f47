import { performance } from 'node:perf_hooks';
import { generateJourneys } from '../../src/demo/journeys.js';
import { Database } from '../../src/modules/database/database.js';
import { describeAnswer } from '../support/clients.js';
import { checkLog } from '../support/event-log.js';
import { report } from '../support/measure.js';
import { allSettled, liveAndRebuilt, projectionsAt, readiness, serverOn, until } from '../support/operations.js';
import { DedicatedPostgres } from '../support/postgres.js';
import { ServerProcess } from '../support/process.js';
import { eventRequests, Traffic } from '../support/traffic.js';

const heavy = process.env.TRAILMAP_HEAVY_TESTS === '1';
/** The normal run: ~3,000 events at ~200/s; the heavy one ~4 times as many at the same rate, and a longer outage. */
const journeys = { customers: heavy ? 700 : 170, seed: 21, start: '2026-09-01T00:00:00.000Z', days: 60 };
const OUTAGE_MS = heavy ? 15_000 : 5_000;
const EVENTS_PER_REQUEST = 10;
const REQUESTS_PER_SECOND = 20;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

describe('a PostgreSQL restart under steady load (real server process)', () => {
  let postgres: DedicatedPostgres;
  let server: ServerProcess;
  let baseUrl: string;
  let database: Database | undefined;
  let traffic: Traffic | undefined;

  beforeAll(async () => {
    postgres = await DedicatedPostgres.start();
    ({ server, url: baseUrl } = await serverOn(postgres.url));
  });

  afterAll(async () => {
    await traffic?.stop({ abandon: true });
    if (server && (server.child.exitCode !== null || server.child.signalCode !== null)) {
      console.error(`the server exited (${server.child.exitCode ?? server.child.signalCode}):\n${server.output.slice(-40).join('\n')}`);
    }
    await server?.stop('SIGKILL');
    await database?.end();
    await postgres?.destroy();
  });

  it('acknowledges nothing it loses, answers 503 / UNAVAILABLE while PostgreSQL is down, recovers without a restart, and equals a rebuild', async () => {
    const messages = [...generateJourneys(journeys)];
    const requests = eventRequests(messages, EVENTS_PER_REQUEST);
    traffic = new Traffic(requests, { url: () => baseUrl, rate: REQUESTS_PER_SECOND, concurrency: 8, retryDelayMs: 250, retryForMs: 120_000 }).start();

    // Steady state first, then a fast shutdown of PostgreSQL, started again OUTAGE_MS after the stop began: same port, same data.
    await pause(3_000);
    const acknowledgedBefore = traffic.acknowledged.size;
    const stoppedAt = performance.now();
    await postgres.stop();
    await pause(OUTAGE_MS / 2 - (performance.now() - stoppedAt));
    const readyWhileDown = await readiness(baseUrl);
    await pause(OUTAGE_MS - (performance.now() - stoppedAt));
    await postgres.start();
    const upAt = performance.now();

    // Recovery as clients and operators see it, measured while the traffic goes on.
    let readyAt: number | undefined;
    let resumedAt: number | undefined;
    let settledAt: number | undefined;
    let processedWhenBack: Map<string, number> | undefined;
    await until(
      async () => {
        if (readyAt === undefined && (await readiness(baseUrl)) === 200) readyAt = performance.now();
        const statuses = await projectionsAt(baseUrl).catch(() => undefined);
        if (statuses && !processedWhenBack) processedWhenBack = new Map(statuses.map((status) => [status.name, status.processedEvents]));
        // Every runner applies again (or had nothing to apply): the backoff after the outage is over.
        if (statuses && resumedAt === undefined && statuses.every((status) => status.processedEvents > processedWhenBack!.get(status.name)! || status.lag === 0)) resumedAt = performance.now();
        if (settledAt === undefined && allSettled(statuses)) settledAt = performance.now();
        return readyAt !== undefined && settledAt !== undefined;
      },
      'the server to be ready and its projections LIVE with lag 0',
      60_000,
    );
    await traffic.done;
    const finishedAt = performance.now();

    const failures = traffic.attempts.filter((attempt) => !attempt.acknowledged);
    const firstAcknowledged = traffic.attempts.filter((attempt) => attempt.acknowledged && attempt.startedAt >= upAt).sort((a, b) => a.endedAt - b.endedAt)[0];
    const outageLatencies = failures.map((attempt) => attempt.answer.ms);
    report('database restart', {
      outageMs: OUTAGE_MS,
      postgresDownMs: upAt - stoppedAt,
      events: messages.length,
      requests: requests.length,
      acknowledgedBeforeStop: acknowledgedBefore,
      failedAttempts: failures.length,
      failedSegment: failures.filter((attempt) => attempt.door === 'segment').length,
      failedGraphql: failures.filter((attempt) => attempt.door === 'graphql').length,
      slowestFailedAnswerMs: Math.max(0, ...outageLatencies),
      readyWhileDown,
      upToFirstSuccessMs: firstAcknowledged ? firstAcknowledged.endedAt - upAt : -1,
      upToReadyMs: readyAt! - upAt,
      upToProjectionsApplyingAgainMs: (resumedAt ?? settledAt!) - upAt,
      upToProjectionsLiveLag0Ms: settledAt! - upAt,
      trafficSeconds: (finishedAt - stoppedAt + 3_000) / 1000,
    });

    // Every failed attempt was one a client may retry, and the server never hung up or died.
    expect(traffic.refused.map((attempt) => describeAnswer(attempt.answer))).toEqual([]);
    expect(failures.filter((attempt) => attempt.answer.networkError).map((attempt) => describeAnswer(attempt.answer))).toEqual([]);
    expect(failures.length).toBeGreaterThan(0);
    expect(readyWhileDown).toBe(503);
    expect(server.child.exitCode).toBeNull();
    expect(traffic.acknowledged.size).toBe(requests.length);

    // Every acknowledged event (retried ones included) is in the log once, with nothing else and no gap.
    database = new Database(postgres.url, 2);
    const log = await checkLog(database, requests.flatMap((request) => request.storedIds));
    expect(log).toEqual({ missing: [], duplicated: [], unexpected: [], gaps: [], stored: expect.any(Number) });
    expect(log.stored).toBeGreaterThanOrEqual(messages.length);

    // Ingestion works on the same process, and the projections equal a clean rebuild by replay.
    const { live, rebuilt } = await liveAndRebuilt(baseUrl, database);
    expect(rebuilt).toEqual(live);
    const { rows } = await database.query<{ events: string; counted: string }>(
      `SELECT (SELECT count(*) FROM event_store_events) AS events,
              (SELECT sum((profile->'metrics'->>'events')::int) FROM customer_profiles WHERE merged_into IS NULL) AS counted`,
    );
    expect(rows[0]!.counted).toBe(rows[0]!.events);
  }, 150_000);
});
