import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { resetDatabase } from './lib/cluster.js';
import { round, runBenchmark, type Bench, type Outcome } from './lib/harness.js';
import { loadDemo, logSize, rebuildAll } from './lib/replay.js';
import { note, type Figure } from './lib/report.js';
import type { TrailmapServer } from './lib/server.js';

export const description = 'scale: ingest and rebuild at 100k and 1M events (10M with --huge): cost per event per size, and the server RSS';

const RSS_LIMIT_MIB = 1024;
const API_ONLY = ' (loaded API only, the projections built after each load)';
/** Cost per event counts as flat when the largest size costs at most this much more than the smallest. */
const FLAT_FACTOR = 1.25;

/**
 * Scale: for each size, a fresh database, N demo events loaded through /v1/batch (projections on), then
 * every projection rebuilt; the cost per event (µs of wall time) of both per size, and the server's
 * maximum RSS throughout. `--projections off` loads through an API-only server, then starts one with
 * its projections, which build themselves from the whole log (as a rebuild does): the log's cost and
 * the projections' cost, each on its own, in about half the time.
 */
export function scale(argv: string[]): Promise<Outcome> {
  return runBenchmark('scale', argv, async (bench) => {
    const { options, cluster, logger } = bench;
    const sizes = options.list('sizes', [100_000, 1_000_000]);
    if (options.values.huge) sizes.push(10_000_000);
    const phase = options.text('phase', 'whole', ['whole', 'load', 'rebuild'] as const);
    const projections = options.text('projections', 'worker', ['worker', 'off'] as const);
    // One pair of keys for the run: a server started after an API-only load must open what it sealed.
    const keys = { TRAILMAP_MASTER_KEY: randomBytes(32).toString('base64'), TRAILMAP_PSEUDONYM_KEY: randomBytes(32).toString('base64') };
    /**
     * Rebuilds every projection on the loaded server, and stops it. After an API-only load
     * (`--projections off`), a server with its projections is started instead: they have never seen
     * the log, so they build themselves by a rebuild.
     */
    const rebuild = async (server: TrailmapServer, events: number, label: string, env: Record<string, string> = keys): Promise<Rebuilt> => {
      if (projections === 'worker') {
        const rebuilt = await rebuildAll(server, events, cluster.postmasterPid, { statementsUrl: cluster.statementsUrl });
        await bench.stopServer(server, label);
        return rebuilt;
      }
      await bench.stopServer(server, `${label} load`);
      const builder = await bench.startServer({ env });
      const rebuilt = await rebuildAll(builder, events, cluster.postmasterPid, { ask: false, statementsUrl: cluster.statementsUrl });
      await bench.stopServer(builder, `${label} build`);
      return rebuilt;
    };
    const measure = async (size: number, label: string): Promise<Row> => {
      const server = await bench.startServer({ projections, env: keys });
      const load = await loadDemo(server, size, cluster, { projections: projections !== 'off' });
      const log = await logSize(cluster.url);
      const rebuilt = await rebuild(server, log.events, label);
      const row = withRebuild(loadedRow(size, load, log), rebuilt);
      note(`${size.toLocaleString()}: ingest ${row.ingestMicrosPerEvent} µs/event, rebuild ${row.rebuildMicrosPerEvent} µs/event, max RSS ${row.maxRssMiB} MiB`);
      return row;
    };
    if (phase !== 'whole') return splitRun(bench, { phase, sizes, projections, keys }, measure, rebuild);

    // The host's speed drifts over a long run (a 1M load takes minutes, a 100k one seconds): the smallest
    // size is measured again after the largest, and its cost is the mean of the two measurements.
    const plan = sizes.length > 1 ? [...sizes, sizes[0]!] : sizes;
    const measured: Row[] = [];
    for (const [index, size] of plan.entries()) {
      if (index > 0) await resetDatabase(cluster, logger);
      measured.push(await measure(size, `scale ${size.toLocaleString()}${index > 0 && index === plan.length - 1 ? ' again' : ''}`));
    }
    const rows = sizes.map((size) => meanRow(measured.filter((row) => row.size === size)));
    return {
      title: `Scale — ${sizes.map((size) => size.toLocaleString()).join(', ')} events${projections === 'off' ? API_ONLY : ''}`,
      figures: scaleFigures(rows),
      options: { sizes, projections },
      details: { sizes: rows, loads: measured },
    };
  });
}

type Loaded = Awaited<ReturnType<typeof loadDemo>>;
type Rebuilt = Awaited<ReturnType<typeof rebuildAll>>;
type LoadedRow = ReturnType<typeof loadedRow>;
type Row = LoadedRow & Partial<ReturnType<typeof withRebuild>>;

function loadedRow(size: number, load: Loaded, log: Awaited<ReturnType<typeof logSize>>) {
  return {
    size,
    events: log.events,
    tableMiB: log.tableMiB,
    ingestEventsPerSecond: round(load.eventsPerSecond),
    ingestMicrosPerEvent: round(1e6 / load.eventsPerSecond),
    catchUpSeconds: round(load.catchUpSeconds),
    maxRssMiB: load.rss.maxMiB,
    /** The load's rate in its first and its last tenth: the same run and traffic, a log ~10 × as long. */
    tenths: tenthRates(load.rates, load.messages),
    load,
  };
}

/** A loaded size with its rebuild: the rebuild's figures, and the larger RSS of the two. */
function withRebuild(loaded: LoadedRow, rebuilt: Rebuilt) {
  return {
    ...loaded,
    maxRssMiB: Math.max(loaded.maxRssMiB, rebuilt.rss.maxMiB),
    rebuildEventsPerSecond: round(rebuilt.eventsPerSecond),
    rebuildMicrosPerEvent: round(1e6 / rebuilt.eventsPerSecond),
    rebuildRssGrowthMiB: rebuilt.rss.growthMiB,
    rebuilt,
  };
}

/** A size measured more than once (the smallest, before and after the largest): the mean cost of its runs. */
function meanRow(runs: Row[]) {
  const mean = (field: 'ingestMicrosPerEvent' | 'rebuildMicrosPerEvent') => {
    const measured = runs.filter((row) => row[field] !== undefined);
    return measured.length === 0 ? undefined : round(measured.reduce((sum, row) => sum + row[field]!, 0) / measured.length);
  };
  const ingest = mean('ingestMicrosPerEvent')!;
  const rebuild = mean('rebuildMicrosPerEvent');
  return {
    ...runs[0]!,
    ingestMicrosPerEvent: ingest,
    ingestEventsPerSecond: round(1e6 / ingest),
    ...(rebuild !== undefined && { rebuildMicrosPerEvent: rebuild, rebuildEventsPerSecond: round(1e6 / rebuild) }),
    maxRssMiB: Math.max(...runs.map((row) => row.maxRssMiB)),
    runs: runs.length,
  };
}

function scaleFigures(rows: ReturnType<typeof meanRow>[]): Figure[] {
  const figures: Figure[] = [];
  for (const row of rows) {
    const times = (name: string) => (row.runs > 1 ? `, mean of ${row.runs} ${name}` : '');
    figures.push({ figure: `${row.size.toLocaleString()}: ingest cost (${Math.round(row.ingestEventsPerSecond).toLocaleString()} events/s${times('loads')})`, unit: 'µs/event', trailmap: row.ingestMicrosPerEvent });
    if (row.rebuildMicrosPerEvent !== undefined) {
      figures.push({ figure: `${row.size.toLocaleString()}: rebuild cost (${Math.round(row.rebuildEventsPerSecond!).toLocaleString()} events/s${times('rebuilds')})`, unit: 'µs/event', trailmap: row.rebuildMicrosPerEvent });
    }
    figures.push({ figure: `${row.size.toLocaleString()}: max server RSS`, unit: 'MiB', trailmap: row.maxRssMiB, target: `< ${RSS_LIMIT_MIB} MiB`, pass: row.maxRssMiB < RSS_LIMIT_MIB });
  }
  if (rows.length > 1) {
    const first = rows[0]!;
    const last = rows.at(-1)!;
    for (const [name, field] of [['ingest', 'ingestMicrosPerEvent'], ['rebuild', 'rebuildMicrosPerEvent']] as const) {
      if (last[field] === undefined || first[field] === undefined) continue;
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
  return figures;
}

/** What the load phase leaves in the data folder for the rebuild phase. */
interface KeptLoad {
  size: number;
  projections: 'worker' | 'off';
  /** The server's keys: the rebuild must open what the load sealed, and pseudonymize alike. */
  keys: Record<string, string>;
  loaded: LoadedRow;
  /** The smallest size measured whole in the load's hour. */
  reference: Row;
}

const KEPT_LOAD_FILE = 'scale-kept-load.json';

/**
 * The largest size measured in two runs, for a size whose load and rebuild together outlast a sitting
 * (10M here: ~2 h and ~1 h). `--phase load` measures the smallest size whole (this hour's reference),
 * then loads the largest into `--data-dir` and keeps it, with the server's keys; `--phase rebuild`, on
 * the same folder, rebuilds it and measures the smallest size whole again. Its results hold both
 * phases: the largest size's load from the first run, its rebuild from the second, and the smallest
 * size's mean of the two hours.
 */
async function splitRun(
  bench: Bench,
  { phase, sizes, projections, keys }: { phase: 'load' | 'rebuild'; sizes: number[]; projections: 'worker' | 'off'; keys: Record<string, string> },
  measure: (size: number, label: string) => Promise<Row>,
  rebuild: (server: TrailmapServer, events: number, label: string, env: Record<string, string>) => Promise<Rebuilt>,
): Promise<Outcome> {
  const { cluster, logger } = bench;
  const title = (what: string) => `Scale — ${sizes.map((size) => size.toLocaleString()).join(', ')} events (${what})${projections === 'off' ? API_ONLY : ''}`;
  const folder = bench.options.values['data-dir'];
  if (!folder || sizes.length !== 2) {
    throw new Error('--phase load|rebuild takes --data-dir D and two sizes (--sizes 100k --huge, or --sizes 100k,1m): the smallest is measured whole, the largest loaded into D, then rebuilt from it');
  }
  const [smallest, largest] = sizes as [number, number];
  const file = path.join(folder, KEPT_LOAD_FILE);
  if (phase === 'load') {
    const reference = await measure(smallest, `scale ${smallest.toLocaleString()}`);
    await resetDatabase(cluster, logger);
    const server = await bench.startServer({ projections, env: keys });
    const load = await loadDemo(server, largest, cluster, { projections: projections !== 'off' });
    const loaded = loadedRow(largest, load, await logSize(cluster.url));
    await bench.stopServer(server, `scale ${largest.toLocaleString()} load`);
    await fs.writeFile(file, JSON.stringify({ size: largest, projections, keys, loaded, reference } satisfies KeptLoad));
    note(`${largest.toLocaleString()}: ingest ${loaded.ingestMicrosPerEvent} µs/event, max RSS ${loaded.maxRssMiB} MiB; kept in ${folder} for --phase rebuild`);
    const rows = [meanRow([reference]), meanRow([loaded])];
    return {
      title: title(`load phase: ${largest.toLocaleString()} loaded and kept`),
      figures: scaleFigures(rows),
      options: { sizes, phase, projections },
      details: { sizes: rows, loads: [reference, loaded], keptIn: folder },
    };
  }
  const kept = JSON.parse(await fs.readFile(file, 'utf8').catch(() => {
    throw new Error(`${file} is missing: run --phase load with the same --data-dir first`);
  })) as KeptLoad;
  if (kept.size !== largest) throw new Error(`${folder} holds ${kept.size.toLocaleString()} events loaded, not ${largest.toLocaleString()}`);
  if (kept.projections !== projections) throw new Error(`${folder} was loaded with --projections ${kept.projections}: rebuild it with the same`);
  const server = await bench.startServer({ projections, env: kept.keys });
  if (projections !== 'off') await server.projectionsCaughtUp();
  const log = await logSize(cluster.url);
  const rebuilt = await rebuild(server, log.events, `scale ${largest.toLocaleString()} rebuild`, kept.keys);
  const largestRow = withRebuild(kept.loaded, rebuilt);
  note(`${largest.toLocaleString()}: rebuild ${largestRow.rebuildMicrosPerEvent} µs/event, max RSS ${largestRow.maxRssMiB} MiB`);
  // The kept database has served its purpose: the smallest size again, on the same PostgreSQL.
  await resetDatabase(cluster, logger);
  await fs.rm(file);
  const again = await measure(smallest, `scale ${smallest.toLocaleString()} again`);
  const rows = [meanRow([kept.reference, again]), meanRow([largestRow])];
  return {
    title: title(`${largest.toLocaleString()} loaded in an earlier run, rebuilt in this one`),
    figures: scaleFigures(rows),
    options: { sizes, phase, projections },
    details: { sizes: rows, loads: [kept.reference, largestRow, again] },
  };
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
