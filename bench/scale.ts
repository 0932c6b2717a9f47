import { resetDatabase } from './lib/cluster.js';
import { round, runBenchmark, type Outcome } from './lib/harness.js';
import { loadDemo, logSize, rebuildAll } from './lib/replay.js';
import { note, type Figure } from './lib/report.js';

export const description = 'scale: ingest and rebuild at 100k and 1M events (10M with --huge): cost per event per size, and the server RSS';

const RSS_LIMIT_MIB = 1024;
/** Cost per event counts as flat when the largest size costs at most this much more than the smallest. */
const FLAT_FACTOR = 1.25;

/**
 * Scale: for each size, a fresh database, N demo events loaded through /v1/batch (projections on), then
 * every projection rebuilt; the cost per event (µs of wall time) of both per size, and the server's
 * maximum RSS throughout.
 */
export function scale(argv: string[]): Promise<Outcome> {
  return runBenchmark('scale', argv, async (bench) => {
    const { options, cluster, logger } = bench;
    const sizes = options.list('sizes', [100_000, 1_000_000]);
    if (options.values.huge) sizes.push(10_000_000);
    // The host's speed drifts over a long run (a 1M load takes minutes, a 100k one seconds): the smallest
    // size is measured again after the largest, and its cost is the mean of the two measurements.
    const plan = sizes.length > 1 ? [...sizes, sizes[0]!] : sizes;
    const measure = async (size: number, label: string) => {
      const server = await bench.startServer();
      const load = await loadDemo(server, size, cluster);
      const log = await logSize(cluster.url);
      const rebuilt = await rebuildAll(server, log.events, cluster.postmasterPid);
      await bench.stopServer(server, label);
      const row = {
        size,
        events: log.events,
        tableMiB: log.tableMiB,
        ingestEventsPerSecond: round(load.eventsPerSecond),
        ingestMicrosPerEvent: round(1e6 / load.eventsPerSecond),
        catchUpSeconds: round(load.catchUpSeconds),
        rebuildEventsPerSecond: round(rebuilt.eventsPerSecond),
        rebuildMicrosPerEvent: round(1e6 / rebuilt.eventsPerSecond),
        maxRssMiB: Math.max(load.rss.maxMiB, rebuilt.rss.maxMiB),
        rebuildRssGrowthMiB: rebuilt.rss.growthMiB,
        /** The load's rate in its first and its last tenth: the same run and traffic, a log ~10 × as long. */
        tenths: tenthRates(load.rates, load.messages),
        load,
        rebuilt,
      };
      note(`${size.toLocaleString()}: ingest ${row.ingestMicrosPerEvent} µs/event, rebuild ${row.rebuildMicrosPerEvent} µs/event, max RSS ${row.maxRssMiB} MiB`);
      return row;
    };
    const measured: Awaited<ReturnType<typeof measure>>[] = [];
    for (const [index, size] of plan.entries()) {
      if (index > 0) await resetDatabase(cluster, logger);
      measured.push(await measure(size, `scale ${size.toLocaleString()}${index > 0 && index === plan.length - 1 ? ' again' : ''}`));
    }
    const rows = sizes.map((size) => {
      const runs = measured.filter((row) => row.size === size);
      const mean = (field: 'ingestMicrosPerEvent' | 'rebuildMicrosPerEvent') => round(runs.reduce((sum, row) => sum + row[field], 0) / runs.length);
      return {
        ...runs[0]!,
        ingestMicrosPerEvent: mean('ingestMicrosPerEvent'),
        rebuildMicrosPerEvent: mean('rebuildMicrosPerEvent'),
        ingestEventsPerSecond: round(1e6 / mean('ingestMicrosPerEvent')),
        rebuildEventsPerSecond: round(1e6 / mean('rebuildMicrosPerEvent')),
        maxRssMiB: Math.max(...runs.map((row) => row.maxRssMiB)),
        runs: runs.length,
      };
    });
    const figures: Figure[] = [];
    for (const row of rows) {
      figures.push(
        { figure: `${row.size.toLocaleString()}: ingest cost (${Math.round(row.ingestEventsPerSecond).toLocaleString()} events/s${row.runs > 1 ? `, mean of ${row.runs} loads` : ''})`, unit: 'µs/event', trailmap: row.ingestMicrosPerEvent },
        { figure: `${row.size.toLocaleString()}: rebuild cost (${Math.round(row.rebuildEventsPerSecond).toLocaleString()} events/s${row.runs > 1 ? `, mean of ${row.runs}` : ''})`, unit: 'µs/event', trailmap: row.rebuildMicrosPerEvent },
        { figure: `${row.size.toLocaleString()}: max server RSS`, unit: 'MiB', trailmap: row.maxRssMiB, target: `< ${RSS_LIMIT_MIB} MiB`, pass: row.maxRssMiB < RSS_LIMIT_MIB },
      );
    }
    if (rows.length > 1) {
      const first = rows[0]!;
      const last = rows.at(-1)!;
      for (const [name, field] of [['ingest', 'ingestMicrosPerEvent'], ['rebuild', 'rebuildMicrosPerEvent']] as const) {
        const ratio = last[field] / first[field];
        figures.push({
          figure: `${name} cost at ${last.size.toLocaleString()} vs ${first.size.toLocaleString()}`,
          unit: 'µs/event',
          trailmap: last[field],
          reference: first[field],
          referenceName: `(${first.size.toLocaleString()})`,
          ratio,
          target: `≤ ${FLAT_FACTOR} ×`,
          pass: ratio <= FLAT_FACTOR,
        });
      }
    }
    const largest = rows.at(-1)!;
    if (largest.tenths) {
      const { first, last } = largest.tenths;
      figures.push({
        figure: `${largest.size.toLocaleString()}: ingest cost in the load's last tenth vs its first`,
        unit: 'µs/event',
        trailmap: round(1e6 / last),
        reference: round(1e6 / first),
        referenceName: '(first tenth)',
        ratio: first / last,
      });
    }
    return {
      title: `Scale — ${sizes.map((size) => size.toLocaleString()).join(', ')} events`,
      figures,
      options: { sizes },
      details: { sizes: rows, loads: measured },
    };
  });
}

/** Mean rate of the load's 15 s windows within its first tenth of messages, and of those within its last (undefined when too short to tell). */
function tenthRates(rates: { messages: number; perSecond: number }[], messages: number): { first: number; last: number } | undefined {
  const windows = rates.map((rate, index) => ({ ...rate, from: index === 0 ? 0 : rates[index - 1]!.messages }));
  const first = windows.filter((window) => window.messages <= messages * 0.1);
  const last = windows.filter((window) => window.from >= messages * 0.9);
  if (first.length === 0 || last.length === 0) return undefined;
  const mean = (part: typeof windows) => part.reduce((sum, window) => sum + window.perSecond, 0) / part.length;
  return { first: mean(first), last: mean(last) };
}
