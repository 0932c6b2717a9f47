import { round, runBenchmark, type Outcome } from './lib/harness.js';
import { keysetScan } from './lib/raw.js';
import { loadDemo, logSize, rebuildAll } from './lib/replay.js';
import { note, ratioFigure, type Figure } from './lib/report.js';
import { median } from './lib/stats.js';

export const description = 'rebuild: replay N demo events (default 1,000,000) through every projection, against a raw keyset scan of the same log';

/** Memory counts as flat when the RSS of the rebuild's second half peaks within this much of its first half's peak. */
const FLAT_GROWTH_MIB = 64;

/**
 * Rebuild: loads N demo events through /v1/batch, lets the projections catch up, then rebuilds every
 * projection by replay (all requested at once, as `rebuildProjection` for each) and measures events/s
 * of the log and the server's RSS over time, against the physical limit of a replay on the same
 * PostgreSQL: a keyset scan of the same rows in global order with their JSON parsed.
 */
export function rebuild(argv: string[]): Promise<Outcome> {
  return runBenchmark('rebuild', argv, async (bench) => {
    const { options, cluster } = bench;
    const events = options.number('events', 1_000_000);
    const scans = options.number('runs', 3);
    const server = await bench.startServer();
    const load = await loadDemo(server, events, cluster);
    const log = await logSize(cluster.url);
    note(`the log holds ${log.events.toLocaleString()} events (${log.averageJsonbBytes} bytes of JSON each, ${log.tableMiB} MiB with indexes)`);

    const scanRuns = [];
    for (let run = 1; run <= scans; run++) {
      scanRuns.push(await keysetScan(cluster.url));
      note(`raw keyset scan ${run}: ${Math.round(scanRuns.at(-1)!.eventsPerSecond).toLocaleString()} events/s`);
    }
    note('rebuilding every projection');
    const rebuilt = await rebuildAll(server, log.events, cluster.postmasterPid, { statementsUrl: cluster.statementsUrl });
    note(`rebuilt in ${rebuilt.seconds.toFixed(1)} s: ${Math.round(rebuilt.eventsPerSecond).toLocaleString()} events/s; RSS max ${rebuilt.rss.maxMiB} MiB, growth ${rebuilt.rss.growthMiB} MiB`);

    const scanRate = median(scanRuns.map((run) => run.eventsPerSecond));
    const figures: Figure[] = [
      ratioFigure(`rebuild of ${rebuilt.projections.length} projections vs raw keyset scan`, 'events/s', rebuilt.eventsPerSecond, scanRate, '(scan)', 0.5),
      {
        figure: 'server RSS during the rebuild: max (growth 2nd half vs 1st)',
        unit: 'MiB',
        trailmap: rebuilt.rss.maxMiB,
        reference: rebuilt.rss.growthMiB,
        referenceName: '(growth)',
        target: `growth ≤ ${FLAT_GROWTH_MIB} MiB`,
        pass: rebuilt.rss.growthMiB <= FLAT_GROWTH_MIB,
      },
      { figure: 'ingest while loading (/v1/batch, 4 clients, projections on)', unit: 'events/s', trailmap: load.eventsPerSecond },
    ];
    return {
      title: `Rebuild — ${log.events.toLocaleString()} events in the log (${load.messages.toLocaleString()} demo messages, ${load.customers.toLocaleString()} customers)`,
      figures,
      options: { events, scans },
      details: { log, load, scanRuns: scanRuns.map((run) => ({ ...run, eventsPerSecond: round(run.eventsPerSecond) })), rebuilt },
    };
  });
}
