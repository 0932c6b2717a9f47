import autocannon from 'autocannon';
import { checkpoint, noteStatements, statementsSince, type StatementSpans } from './lib/cluster.js';
import { round, runBenchmark, type Outcome } from './lib/harness.js';
import { emmettPostgreSQL, type EmmettEventStore } from './lib/peer.js';
import { createRawTable, rawInsert } from './lib/raw.js';
import { note, ratioFigure, type Figure } from './lib/report.js';
import type { TrailmapServer } from './lib/server.js';
import { median, monotonicMs, summarize, type LatencySummary } from './lib/stats.js';
import { CpuMeter } from './lib/system.js';
import { customerOf, productViewed, referencePayload, seedPopulation } from './lib/workload.js';

export const description = 'single-event ingest: recordEvents with one event a request, 16 clients, against raw one-row transactions and the Emmett PostgreSQL event store';

const CLIENTS = 16;
const POPULATION = 10_000;
const RECORD_EVENTS = `mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id customerId duplicate } } }`;

/** How a client sends its one event: the GraphQL mutation (the target's figure), or Segment's `/v1/track` (no GraphQL: for scale). */
type Way = 'recordEvents' | 'track';

interface Measured {
  eventsPerSecond: number;
  events: number;
  seconds: number;
  latency: LatencySummary;
  errors: number;
  cpu: ReturnType<CpuMeter['read']>;
}

/**
 * Single-event ingest: 16 clients each with one `recordEvents` of one event in flight, against the same
 * PostgreSQL's limit for one transaction per event (raw single-row INSERTs, 16 clients) and the peer
 * (Emmett's PostgreSQL event store, 16 appenders of one event to distinct streams). Every acknowledged
 * event is durable in all three: fsync and synchronous_commit are on.
 */
export function single(argv: string[]): Promise<Outcome> {
  return runBenchmark('single', argv, async (bench) => {
    const { options, cluster } = bench;
    const runs = options.number('runs', 3);
    const seconds = options.number('duration', 10);
    const clients = options.number('concurrency', CLIENTS);
    const projections = options.text('projections', 'worker', ['worker', 'on', 'off', 'separate'] as const);
    const server = await bench.startServer({ projections });
    const caughtUp = () => (projections !== 'off' ? server.projectionsCaughtUp() : Promise.resolve(0));
    note(`seeding ${POPULATION.toLocaleString()} customers`);
    await seedPopulation(server, POPULATION);
    await caughtUp();
    const { getPostgreSQLEventStore } = await emmettPostgreSQL();
    const emmett = getPostgreSQLEventStore(cluster.referenceUrl);
    await emmettAppenders(emmett, clients, 2, cluster.postmasterPid); // creates its schema, warms its pool
    await trailmapClients(server, clients, 2, cluster.postmasterPid, 'recordEvents');
    await trailmapClients(server, clients, 2, cluster.postmasterPid, 'track');
    await caughtUp();

    const results = { trailmap: [] as Measured[], track: [] as Measured[], raw: [] as Measured[], raw1: [] as Measured[], emmett: [] as Measured[] };
    const statementsUrl = cluster.statementsUrl;
    const statements: { way: Way; run: number; perEvent: StatementSpans }[] = [];
    try {
      for (let run = 1; run <= runs; run++) {
        for (const [name, connections] of [['raw1', 1], ['raw', clients]] as const) {
          await createRawTable(cluster.referenceUrl);
          await checkpoint(cluster.url);
          const meter = new CpuMeter(undefined, cluster.postmasterPid);
          const raw = await rawInsert(cluster.referenceUrl, { clients: connections, perTransaction: 1, seconds, measure: () => meter.read() });
          results[name].push({ eventsPerSecond: raw.eventsPerSecond, events: raw.events, seconds: raw.seconds, latency: summarize(raw.latencies!), errors: 0, cpu: raw.measured! });
          note(`run ${run}: raw one-row transactions, ${connections} client(s): ${Math.round(raw.eventsPerSecond).toLocaleString()} events/s`);
        }
        await checkpoint(cluster.url);
        results.emmett.push(await emmettAppenders(emmett, clients, seconds, cluster.postmasterPid));
        note(`run ${run}: Emmett, ${clients} appenders: ${Math.round(results.emmett.at(-1)!.eventsPerSecond).toLocaleString()} events/s`);
        await checkpoint(cluster.url);
        for (const way of ['recordEvents', 'track'] as const) {
          // With --statements: PostgreSQL's statements for each event, the projections' catching up included.
          const statementsUntil = await statementsSince(statementsUrl, server.databaseUrl);
          const measured = await trailmapClients(server, clients, seconds, cluster.postmasterPid, way);
          (way === 'track' ? results.track : results.trailmap).push(measured);
          note(`run ${run}: Trailmap ${way === 'track' ? '/v1/track' : 'recordEvents'}, ${clients} clients: ${Math.round(measured.eventsPerSecond).toLocaleString()} events/s, p99 ${measured.latency.p99} ms (server ${measured.cpu.serverCores} cores)`);
          await caughtUp();
          if (statementsUntil) {
            const perEvent = await statementsUntil(measured.events);
            statements.push({ way, run, perEvent });
            noteStatements(`run ${run}: ${way}`, 'event', perEvent);
          }
          await checkpoint(cluster.url);
        }
      }
    } finally {
      await emmett.close();
    }

    const medianOf = (name: keyof typeof results) => median(results[name].map((result) => result.eventsPerSecond));
    const latencyOf = (name: keyof typeof results, field: 'p50' | 'p99') => median(results[name].map((result) => result.latency[field]));
    const figures: Figure[] = [
      ratioFigure(`recordEvents ×1, ${clients} clients, vs raw 1-row transactions, ${clients} clients`, 'events/s', medianOf('trailmap'), medianOf('raw'), '(raw)', 1.0),
      ratioFigure(`recordEvents ×1, ${clients} clients, vs Emmett, ${clients} appenders`, 'events/s', medianOf('trailmap'), medianOf('emmett'), '(Emmett)', 3),
      ratioFigure(`Segment /v1/track ×1, ${clients} clients (no GraphQL; for scale), vs raw 1-row transactions, ${clients} clients`, 'events/s', medianOf('track'), medianOf('raw'), '(raw)'),
      ratioFigure('raw 1-row transactions, 1 client (for scale)', 'events/s', medianOf('raw1'), medianOf('raw'), `(raw ${clients})`),
      { figure: 'recordEvents latency p50 (reference: raw INSERT)', unit: 'ms', trailmap: latencyOf('trailmap', 'p50'), reference: latencyOf('raw', 'p50'), referenceName: '(raw)' },
      { figure: 'recordEvents latency p99 (reference: raw INSERT)', unit: 'ms', trailmap: latencyOf('trailmap', 'p99'), reference: latencyOf('raw', 'p99'), referenceName: '(raw)' },
      { figure: '/v1/track latency p50 / p99', unit: 'ms', trailmap: latencyOf('track', 'p50'), reference: latencyOf('track', 'p99'), referenceName: '(p99)' },
      { figure: 'Emmett append latency p50 / p99', unit: 'ms', trailmap: latencyOf('emmett', 'p50'), reference: latencyOf('emmett', 'p99'), referenceName: '(p99)' },
    ];
    return {
      title: `Single-event ingest — median of ${runs} runs of ${seconds} s, ${clients} clients (projections ${projections})`,
      figures,
      options: { runs, seconds, clients, population: POPULATION, projections, statements: statementsUrl !== undefined },
      details: {
        ...Object.fromEntries(Object.entries(results).map(([name, list]) => [name, list.map((result) => ({ ...result, eventsPerSecond: round(result.eventsPerSecond) }))])),
        ...(statements.length > 0 && { statements }),
      },
    };
  });
}

/**
 * `clients` autocannon connections, each with one request of one new event in flight: a `recordEvents`
 * mutation, or the same event as a Segment `track` call. Errors counted from the bodies too.
 */
async function trailmapClients(server: TrailmapServer, clients: number, seconds: number, postmasterPid: number, way: Way): Promise<Measured> {
  let errors = 0;
  let firstError: string | undefined;
  const meter = new CpuMeter(server.pid, postmasterPid);
  const request =
    way === 'recordEvents'
      ? {
          path: '/graphql',
          authorization: `Bearer ${server.writeKey}`,
          body: () => JSON.stringify({ query: RECORD_EVENTS, variables: { events: [productViewed(customerOf(POPULATION))] } }),
        }
      : {
          path: '/v1/track',
          authorization: `Basic ${Buffer.from(`${server.writeKey}:`).toString('base64')}`,
          body: () => {
            const event = productViewed(customerOf(POPULATION));
            return JSON.stringify({ messageId: event.id, userId: event.userId, event: event.type, properties: event.properties, traits: event.traits, timestamp: new Date().toISOString() });
          },
        };
  const result = await autocannon({
    url: server.url,
    connections: clients,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: request.path,
        headers: { 'content-type': 'application/json', authorization: request.authorization },
        setupRequest: (sent) => ({ ...sent, body: request.body() }),
        onResponse: (status, body) => {
          if (status !== 200 || body.includes('"errors"')) {
            errors += 1;
            firstError ??= `${status} ${body.slice(0, 300)}`;
          }
        },
      },
    ],
  });
  const cpu = meter.read();
  if (errors > 0) note(`${way}: ${errors} failed requests, the first: ${firstError}`);
  const events = result.requests.total - errors - result.non2xx;
  return {
    eventsPerSecond: events / result.duration,
    events,
    seconds: result.duration,
    latency: { count: result.requests.total, p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, p999: result.latency.p99_9, max: result.latency.max, mean: result.latency.mean },
    errors: errors + result.errors + result.timeouts,
    cpu,
  };
}

/** `appenders` concurrent loops, each appending one event at a time to a random stream of the population (no expected version). */
async function emmettAppenders(store: EmmettEventStore, appenders: number, seconds: number, postmasterPid: number): Promise<Measured> {
  const latencies: number[] = [];
  let events = 0;
  const meter = new CpuMeter(undefined, postmasterPid);
  const started = monotonicMs();
  const deadline = started + seconds * 1000;
  const inFlight = new Set<string>();
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (monotonicMs() < deadline) {
        let customer = customerOf(POPULATION);
        while (inFlight.has(customer)) customer = customerOf(POPULATION);
        inFlight.add(customer);
        const { type, data, metadata } = referencePayload(customer);
        const sent = monotonicMs();
        await store.appendToStream(`customer-${customer}`, [{ type, data, metadata }]);
        latencies.push(monotonicMs() - sent);
        inFlight.delete(customer);
        events += 1;
      }
    }),
  );
  const elapsed = (monotonicMs() - started) / 1000;
  return { eventsPerSecond: events / elapsed, events, seconds: elapsed, latency: summarize(latencies), errors: 0, cpu: meter.read() };
}
