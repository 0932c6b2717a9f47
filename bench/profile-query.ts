import autocannon from 'autocannon';
import { settleAfterLoad, withClient } from './lib/cluster.js';
import { runBenchmark, type Outcome } from './lib/harness.js';
import { loadDemo } from './lib/replay.js';
import { note, ratioFigure, type Figure } from './lib/report.js';
import type { TrailmapServer } from './lib/server.js';
import { openLoop } from './lib/open-loop.js';
import { median, type LatencySummary } from './lib/stats.js';
import { CpuMeter } from './lib/system.js';

export const description = 'profile query: customer(id) with metrics and stage history at a fixed 500 requests/s and at saturation, against { __typename }';

const PROFILE_QUERY = `query Profile($id: ID!) {
  customer(id: $id) {
    id stage stageEnteredAt firstSeenAt lastSeenAt channels version
    metrics { events sessions pageViews orders revenue averageOrderValue returns openSupportTickets }
    stageHistory { from to at eventType }
  }
}`;
const TRIVIAL_QUERY = '{ __typename }';
const SATURATION_CONNECTIONS = 32;

interface Saturated {
  requestsPerSecond: number;
  latency: LatencySummary;
  errors: number;
  cpu: ReturnType<CpuMeter['read']>;
}

/**
 * Profile query: the support tool's `customer(id)` with metrics and stage history, over the customers of
 * the demo journeys, at a fixed 500 requests/s (open loop: latency counted from when each request was
 * due, so a stall is not hidden) and at saturation, against `{ __typename }` at saturation on the same server.
 */
export function profileQuery(argv: string[]): Promise<Outcome> {
  return runBenchmark('profile-query', argv, async (bench) => {
    const { options, cluster } = bench;
    const events = options.number('events', 200_000);
    const runs = options.number('runs', 3);
    const seconds = options.number('duration', 10);
    const rate = options.number('rate', 500);
    const connections = options.number('concurrency', SATURATION_CONNECTIONS);
    const projections = options.text('projections', 'worker', ['worker', 'on'] as const);
    const server = await bench.startServer({ projections });
    const load = await loadDemo(server, events, cluster);
    await settleAfterLoad(cluster.url);
    const ids = await customerIds(cluster.url);
    note(`${ids.length.toLocaleString()} customers to query`);
    await paced(server, ids, rate, 3); // warm-up

    const results = { paced: [] as Awaited<ReturnType<typeof paced>>[], profile: [] as Saturated[], trivial: [] as Saturated[] };
    for (let run = 1; run <= runs; run++) {
      results.paced.push(await paced(server, ids, rate, seconds, cluster.postmasterPid));
      const last = results.paced.at(-1)!;
      note(`run ${run}: customer(id) at ${rate}/s: p50 ${last.latency.p50.toFixed(2)} ms, p99 ${last.latency.p99.toFixed(2)} ms (achieved ${Math.round(last.achievedRate)}/s, server ${last.cpu.serverCores} cores)`);
      results.trivial.push(await saturate(server, connections, seconds, () => TRIVIAL_QUERY, () => ({}), cluster.postmasterPid));
      results.profile.push(await saturate(server, connections, seconds, () => PROFILE_QUERY, () => ({ id: ids[Math.floor(Math.random() * ids.length)] }), cluster.postmasterPid));
      note(`run ${run}: saturated: customer(id) ${Math.round(results.profile.at(-1)!.requestsPerSecond)}/s, { __typename } ${Math.round(results.trivial.at(-1)!.requestsPerSecond)}/s`);
    }

    const pacedP = (field: 'p50' | 'p99') => median(results.paced.map((result) => result.latency[field]));
    const saturated = (name: 'profile' | 'trivial') => median(results[name].map((result) => result.requestsPerSecond));
    const figures: Figure[] = [
      { figure: `customer(id) p50 at ${rate} req/s`, unit: 'ms', trailmap: pacedP('p50') },
      { figure: `customer(id) p99 at ${rate} req/s`, unit: 'ms', trailmap: pacedP('p99'), target: '≤ 10 ms', pass: pacedP('p99') <= 10 },
      ratioFigure(`customer(id) saturated vs { __typename }, ${connections} connections`, 'req/s', saturated('profile'), saturated('trivial'), '(trivial)', 0.5),
      { figure: 'customer(id) saturated p50 / p99', unit: 'ms', trailmap: median(results.profile.map((r) => r.latency.p50)), reference: median(results.profile.map((r) => r.latency.p99)), referenceName: '(p99)' },
      { figure: '{ __typename } saturated p50 / p99', unit: 'ms', trailmap: median(results.trivial.map((r) => r.latency.p50)), reference: median(results.trivial.map((r) => r.latency.p99)), referenceName: '(p99)' },
    ];
    return {
      title: `Profile query — ${ids.length.toLocaleString()} customers, median of ${runs} runs of ${seconds} s${projections === 'worker' ? '' : ` (projections ${projections})`}`,
      figures,
      options: { events, runs, seconds, rate, connections, ...(projections !== 'worker' && { projections }) },
      details: { load: { ...load, rssSeries: undefined }, ...results, customers: ids.length },
    };
  });
}

async function customerIds(url: string): Promise<string[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ customer_id: string }>('SELECT customer_id FROM customer_profiles WHERE merged_into IS NULL');
    return rows.map((row) => row.customer_id);
  });
}

/** Open loop at `rate` (request i due at start + i/rate whatever happened before; latency runs from that moment), with the server's CPU. */
async function paced(server: TrailmapServer, ids: string[], rate: number, seconds: number, postmasterPid?: number) {
  const meter = new CpuMeter(server.pid, postmasterPid);
  const result = await openLoop({
    url: server.url,
    path: '/graphql',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
    body: () => JSON.stringify({ query: PROFILE_QUERY, variables: { id: ids[Math.floor(Math.random() * ids.length)] } }),
    rate,
    seconds,
  });
  return { ...result, cpu: meter.read() };
}

/** Closed loop with `connections` connections, one request in flight each, for `seconds`. */
async function saturate(server: TrailmapServer, connections: number, seconds: number, query: () => string, variables: () => Record<string, unknown>, postmasterPid?: number): Promise<Saturated> {
  let errors = 0;
  const meter = new CpuMeter(server.pid, postmasterPid);
  const result = await autocannon({
    url: server.graphqlUrl,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ query: query(), variables: variables() }) }),
        onResponse: (status, body) => {
          if (status !== 200 || body.includes('"errors"')) errors += 1;
        },
      },
    ],
  });
  return {
    requestsPerSecond: (result.requests.total - errors) / result.duration,
    latency: { count: result.requests.total, p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, p999: result.latency.p99_9, max: result.latency.max, mean: result.latency.mean },
    errors: errors + result.errors + result.timeouts,
    cpu: meter.read(),
  };
}

