import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { apiKeys } from '../support/app.js';
import { acknowledged, describeAnswer, graphqlAt, RECORD_EVENTS } from '../support/clients.js';
import { percentile, report } from '../support/measure.js';
import { type ProjectionFigures, projectionsAt, serverOn, settled, until } from '../support/operations.js';
import { DedicatedPostgres } from '../support/postgres.js';
import { ServerProcess } from '../support/process.js';

const REQUESTS_PER_PHASE = 150;

/**
 * The stall is real: the test holds a SHARE lock on journey_states, so the journey projection's
 * transaction waits on its first write. Not a row lock (SELECT … FOR UPDATE): that takes a
 * transaction id, and readers of the log stop below the oldest running transaction id of the whole
 * cluster, so the test's own lock would hide new events from every projection. For the same reason
 * the test has its own PostgreSQL: the stuck projection's transaction holds back every reader of
 * the cluster, and the other test files must not wait for this one.
 */
describe('a stuck projection (real server process, a table lock held by the test)', () => {
  let postgres: DedicatedPostgres;
  let server: ServerProcess;
  let baseUrl: string;
  let locker: pg.Client | undefined;

  beforeAll(async () => {
    postgres = await DedicatedPostgres.start();
    ({ server, url: baseUrl } = await serverOn(postgres.url));
  });

  afterAll(async () => {
    await locker?.query('ROLLBACK').catch(() => undefined);
    await locker?.end().catch(() => undefined);
    await server?.stop('SIGKILL');
    await postgres?.destroy();
  });

  const prefix = `stall-${randomUUID().slice(0, 8)}`;
  let sequence = 0;
  /** recordEvents of one new event, two clients at a time; the latency of each call. */
  const phase = async (requests: number, during?: () => Promise<void>) => {
    const latencies: number[] = [];
    const failures: string[] = [];
    let remaining = requests;
    const client = async () => {
      while (remaining-- > 0) {
        const index = sequence++;
        const started = performance.now();
        const answer = await graphqlAt(baseUrl, RECORD_EVENTS, { events: [{ type: 'Product Viewed', userId: `${prefix}-${index % 40}`, properties: { product_id: `p-${index}` } }] }, apiKeys.ingest);
        latencies.push(performance.now() - started);
        if (!acknowledged(answer)) failures.push(describeAnswer(answer));
        await during?.();
      }
    };
    await Promise.all([client(), client()]);
    return { latencies, failures };
  };

  it('keeps ingestion latency while a projection is stuck, reports the lag growing, and catches up once released', async () => {
    const stuck = `${prefix}-stuck`;
    const first = await graphqlAt(baseUrl, RECORD_EVENTS, { events: [{ type: 'Product Viewed', userId: stuck, properties: { product_id: 'first' } }] }, apiKeys.ingest);
    expect(acknowledged(first)).toBe(true);
    await settled(baseUrl);

    const baseline = await phase(REQUESTS_PER_PHASE);
    await settled(baseUrl);

    // Block writes to journey states, then give the journey projection an event to apply.
    locker = new pg.Client({ connectionString: postgres.url, application_name: 'test-locker' });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE journey_states IN SHARE MODE');
    expect((await locker.query('SELECT pg_current_xact_id_if_assigned() AS xid')).rows[0].xid).toBeNull();
    const blocked = await graphqlAt(baseUrl, RECORD_EVENTS, { events: [{ type: 'Product Added', userId: stuck, properties: { product_id: 'second' } }] }, apiKeys.ingest);
    expect(acknowledged(blocked)).toBe(true);
    await until(
      async () =>
        (
          await locker!.query<{ waiting: number }>(
            `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE application_name = 'trailmap-projection-journey-stage' AND wait_event_type = 'Lock'`,
          )
        ).rows[0]!.waiting === 1,
      'the journey projection to wait on the lock',
      30_000,
    );

    // Sampled by requests rather than by time: however fast the machine records them, six samples.
    const lags: ProjectionFigures[][] = [];
    let sinceSample = 0;
    const stalled = await phase(REQUESTS_PER_PHASE, async () => {
      if (++sinceSample < REQUESTS_PER_PHASE / 6) return;
      sinceSample = 0;
      const statuses = await projectionsAt(baseUrl);
      if (statuses) lags.push(statuses);
    });
    const lagOf = (statuses: ProjectionFigures[], name: string) => statuses.find((status) => status.name === name)!.lag ?? 0;
    const journeyLags = lags.map((statuses) => lagOf(statuses, 'journey-stage'));
    const stalledStatus = (await projectionsAt(baseUrl))!;

    const releasedAt = performance.now();
    await locker.query('ROLLBACK');
    const caughtUpAt = await settled(baseUrl, 60_000);
    const state = await graphqlAt(baseUrl, 'query($id: ID!) { customer(id: $id) { stage metrics { events } } }', { id: stuck }, apiKeys.analyst);

    const figures = (latencies: number[]) => ({ p50: percentile(latencies, 50), p99: percentile(latencies, 99) });
    report('stuck projection', {
      baselineP50Ms: figures(baseline.latencies).p50,
      baselineP99Ms: figures(baseline.latencies).p99,
      stalledP50Ms: figures(stalled.latencies).p50,
      stalledP99Ms: figures(stalled.latencies).p99,
      journeyLagSamples: journeyLags,
      lagsAtEndOfStall: Object.fromEntries(stalledStatus.map((status) => [status.name, status.lag])),
      statesAtEndOfStall: Object.fromEntries(stalledStatus.map((status) => [status.name, status.state])),
      releaseToLag0Ms: caughtUpAt - releasedAt,
    });

    expect(baseline.failures).toEqual([]);
    expect(stalled.failures).toEqual([]);
    // Ingestion does not wait for projections (generous bounds: the machine is shared).
    expect(figures(stalled.latencies).p50).toBeLessThan(figures(baseline.latencies).p50 * 3 + 100);
    expect(figures(stalled.latencies).p99).toBeLessThan(Math.max(2_000, figures(baseline.latencies).p99 * 3));
    // The projections query reports the stuck projection's lag, growing with what is recorded meanwhile.
    expect(journeyLags.length).toBeGreaterThan(3);
    expect(journeyLags.at(-1)!).toBeGreaterThan(journeyLags[0]!);
    expect(lagOf(stalledStatus, 'journey-stage')).toBeGreaterThanOrEqual(REQUESTS_PER_PHASE);
    // Released, it applies what waited, the blocked event included.
    expect(state.body.data.customer.metrics.events).toBe(2);
  }, 120_000);
});
