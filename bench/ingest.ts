import { checkpoint, noteStatements, statementsSince, type StatementSpans } from './lib/cluster.js';
import { logSize } from './lib/replay.js';
import { round, runBenchmark, type Outcome } from './lib/harness.js';
import { createRawTable, rawInsert, type RawResult } from './lib/raw.js';
import { note, ratioFigure, type Figure } from './lib/report.js';
import { median, summarize } from './lib/stats.js';
import { CpuMeter } from './lib/system.js';
import { demoBatches, postBatches, takeBatches, type SendResult } from './lib/workload.js';

export const description = 'bulk ingest: /v1/batch, 100 events a request, demo journeys of 10,000 customers, against raw multi-row INSERTs of 500 rows';

const HEADLINE_CONCURRENCY = 4;
const BATCH_SIZE = 100;
/** The issue's figure; `--customers` sets another population (more customers over the same 60 days: denser traffic). */
const CUSTOMERS = 10_000;
const ROWS_PER_TRANSACTION = 500;

/**
 * Bulk ingest: the Segment /v1/batch API with validation, identity resolution and PII sealing on
 * (the demo journeys carry identify traits, sign-ups, addresses), against the physical limit of the
 * same PostgreSQL: raw multi-row INSERTs of 500 ~300-byte events per transaction. Runs alternate
 * reference and Trailmap so that drifting background load hits both.
 */
export function ingest(argv: string[]): Promise<Outcome> {
  return runBenchmark('ingest', argv, async (bench) => {
    const { options, cluster } = bench;
    const runs = options.number('runs', 3);
    const eventsPerRun = options.number('events', 50_000);
    const concurrencies = options.list('concurrency', [HEADLINE_CONCURRENCY]);
    const referenceSeconds = options.number('duration', 5);
    const projections = options.text('projections', 'worker', ['worker', 'on', 'off', 'separate'] as const);
    const customers = options.number('customers', CUSTOMERS);
    const referenceClients = [...new Set([1, HEADLINE_CONCURRENCY, ...concurrencies])].sort((a, b) => a - b);

    const server = await bench.startServer({ projections });
    const source = demoBatches(customers, BATCH_SIZE);
    note(`warming up: ${(10_000).toLocaleString()} demo messages`);
    await postBatches(server, await takeBatches(source, 10_000), HEADLINE_CONCURRENCY);
    if (projections !== 'off') await server.projectionsCaughtUp();

    const trailmapRuns: Record<number, (Omit<SendResult, 'latencies'> & { latency: ReturnType<typeof summarize>; cpu: ReturnType<CpuMeter['read']>; catchUpSeconds: number | null })[]> = {};
    const referenceRuns: Record<number, RawResult<ReturnType<CpuMeter['read']>>[]> = {};
    const statementsUrl = cluster.statementsUrl;
    const statements: { concurrency: number; run: number; perEvent: StatementSpans }[] = [];
    for (let run = 1; run <= runs; run++) {
      for (const clients of referenceClients) {
        await createRawTable(cluster.referenceUrl);
        await checkpoint(cluster.url);
        const meter = new CpuMeter(undefined, cluster.postmasterPid);
        const result = await rawInsert(cluster.referenceUrl, { clients, perTransaction: ROWS_PER_TRANSACTION, seconds: referenceSeconds, measure: () => meter.read() });
        (referenceRuns[clients] ??= []).push(result);
        note(`run ${run}: raw INSERT ×${ROWS_PER_TRANSACTION}, ${clients} client(s): ${Math.round(result.eventsPerSecond).toLocaleString()} events/s`);
      }
      for (const concurrency of concurrencies) {
        const batches = await takeBatches(source, eventsPerRun);
        await checkpoint(cluster.url);
        // With --statements: PostgreSQL's statements for each event, the projections' catching up included.
        const statementsUntil = await statementsSince(statementsUrl, server.databaseUrl);
        const meter = new CpuMeter(server.pid, cluster.postmasterPid);
        const { latencies, ...result } = await postBatches(server, batches, concurrency);
        const cpu = meter.read();
        const catchUpSeconds = projections !== 'off' ? await server.projectionsCaughtUp() : null;
        if (statementsUntil) {
          const perEvent = await statementsUntil(result.messages);
          statements.push({ concurrency, run, perEvent });
          noteStatements(`run ${run}, ${concurrency} client(s)`, 'event', perEvent);
        }
        (trailmapRuns[concurrency] ??= []).push({ ...result, latency: summarize(latencies), cpu, catchUpSeconds });
        note(
          `run ${run}: Trailmap /v1/batch, ${concurrency} client(s): ${Math.round(result.eventsPerSecond).toLocaleString()} events/s ` +
            `(server ${cpu.serverCores} cores, PostgreSQL ${cpu.postgresCores}; projections caught up ${catchUpSeconds?.toFixed(1) ?? '–'} s later)`,
        );
      }
    }

    const trailmapMedian = (concurrency: number) => median(trailmapRuns[concurrency]!.map((run) => run.eventsPerSecond));
    const referenceMedian = (clients: number) => median(referenceRuns[clients]!.map((run) => run.eventsPerSecond));
    const headline = concurrencies.includes(HEADLINE_CONCURRENCY) ? HEADLINE_CONCURRENCY : concurrencies[0]!;
    const figures: Figure[] = [
      ratioFigure(`/v1/batch, ${headline} clients, vs raw INSERT ×500, ${HEADLINE_CONCURRENCY} clients`, 'events/s', trailmapMedian(headline), referenceMedian(HEADLINE_CONCURRENCY), `(${HEADLINE_CONCURRENCY} cl.)`, 0.5),
      ratioFigure(`/v1/batch, ${headline} clients, vs raw INSERT ×500, 1 client`, 'events/s', trailmapMedian(headline), referenceMedian(1), '(1 cl.)'),
    ];
    for (const concurrency of concurrencies.filter((value) => value !== headline)) {
      figures.push(ratioFigure(`/v1/batch, ${concurrency} clients, vs raw, ${concurrency} clients`, 'events/s', trailmapMedian(concurrency), referenceMedian(concurrency), `(${concurrency} cl.)`));
    }
    const headlineLatency = trailmapRuns[headline]!.at(-1)!.latency;
    figures.push({ figure: `/v1/batch request latency p50, ${headline} clients`, unit: 'ms', trailmap: headlineLatency.p50 });
    figures.push({ figure: `/v1/batch request latency p99, ${headline} clients`, unit: 'ms', trailmap: headlineLatency.p99 });

    const stored = await logSize(cluster.url);
    return {
      title: `Bulk ingest — median of ${runs} runs of ${eventsPerRun.toLocaleString()} demo events (projections ${projections}${customers === CUSTOMERS ? '' : `, ${customers.toLocaleString()} customers`})`,
      figures,
      options: { runs, eventsPerRun, concurrencies, referenceSeconds, projections, batchSize: BATCH_SIZE, customers, rowsPerTransaction: ROWS_PER_TRANSACTION, statements: statementsUrl !== undefined },
      details: {
        chart: {
          trailmap: concurrencies.map((concurrency) => ({ concurrency, eventsPerSecond: round(trailmapMedian(concurrency), 0) })),
          reference: referenceClients.map((clients) => ({ concurrency: clients, eventsPerSecond: round(referenceMedian(clients), 0) })),
        },
        trailmapRuns,
        referenceRuns,
        stored,
        ...(statements.length > 0 && { statements }),
      },
    };
  });
}

