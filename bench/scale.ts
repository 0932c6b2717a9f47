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
    const rows = [];
    for (const [index, size] of sizes.entries()) {
      if (index > 0) await resetDatabase(cluster, logger);
      const server = await bench.startServer();
      const load = await loadDemo(server, size, cluster.postmasterPid);
      const log = await logSize(cluster.url);
      const rebuilt = await rebuildAll(server, log.events, cluster.postmasterPid);
      await bench.stopServer(server, `scale ${size.toLocaleString()}`);
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
        load,
        rebuilt,
      };
      rows.push(row);
      note(`${size.toLocaleString()}: ingest ${row.ingestMicrosPerEvent} µs/event, rebuild ${row.rebuildMicrosPerEvent} µs/event, max RSS ${row.maxRssMiB} MiB`);
    }
    const figures: Figure[] = [];
    for (const row of rows) {
      figures.push(
        { figure: `${row.size.toLocaleString()}: ingest cost (${Math.round(row.ingestEventsPerSecond).toLocaleString()} events/s)`, unit: 'µs/event', trailmap: row.ingestMicrosPerEvent },
        { figure: `${row.size.toLocaleString()}: rebuild cost (${Math.round(row.rebuildEventsPerSecond).toLocaleString()} events/s)`, unit: 'µs/event', trailmap: row.rebuildMicrosPerEvent },
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
    return {
      title: `Scale — ${sizes.map((size) => size.toLocaleString()).join(', ')} events`,
      figures,
      options: { sizes },
      details: { sizes: rows },
    };
  });
}
