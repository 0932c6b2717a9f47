import pg from 'pg';
import { activityBetween, postgresActivity, statementCounters, statementsBetween, tableCounters, withClient, type Cluster, type StatementCounters } from './cluster.js';
import { note } from './report.js';
import { readCheckpoints, type TrailmapServer } from './server.js';
import { monotonicMs, sleep } from './stats.js';
import { CpuMeter, RssSampler } from './system.js';
import { trailmap } from './trailmap.js';
import { DEMO_DAYS, demoStart } from './workload.js';

/**
 * Loads about `events` demo messages through /v1/batch with the project's sender (100 a request, 4 in
 * flight), and waits for the server's projections to catch up (`projections: false`: an API-only server,
 * nothing to wait for).
 */
export async function loadDemo(server: TrailmapServer, events: number, cluster: Cluster, { projections = true } = {}) {
  const { estimateMessageCount } = await trailmap.journeys();
  const { sendDemoTraffic } = await trailmap.sendDemo();
  const start = demoStart();
  const sample = 2_000;
  const perCustomer = estimateMessageCount({ customers: sample, seed: 1, start, days: DEMO_DAYS }) / sample;
  const customers = Math.max(1, Math.round(events / perCustomer));
  note(`loading ~${events.toLocaleString()} demo messages (${customers.toLocaleString()} customers) through /v1/batch`);
  const rss = new RssSampler(server.pid, 500).start();
  const meter = new CpuMeter(server.pid, cluster.postmasterPid);
  const activity = await postgresActivity(server.databaseUrl);
  // With --statements: PostgreSQL's statements in the load's first and last tenth, to tell what grows with the log.
  const tenths = new TenthSnapshots(cluster.statementsUrl, server.databaseUrl);
  let shown = { seconds: 0, messages: 0 };
  /** The rate of each window between progress notes: whether the cost per event grows as the log does. */
  const rates: { messages: number; perSecond: number }[] = [];
  const sent = await sendDemoTraffic({
    url: server.url,
    writeKey: server.writeKey,
    customers,
    rate: 0,
    seed: 1,
    start,
    days: DEMO_DAYS,
    batchSize: 100,
    concurrency: 4,
    onProgress: (progress) => {
      tenths.reached(progress.messages, progress.messages / progress.expected);
      if (progress.seconds - shown.seconds < 15) return;
      const perSecond = Math.round((progress.messages - shown.messages) / (progress.seconds - shown.seconds));
      rates.push({ messages: progress.messages, perSecond });
      shown = progress;
      note(`  ${progress.messages.toLocaleString()} / ~${progress.expected.toLocaleString()} messages, ${perSecond.toLocaleString()}/s in the last 15 s, server RSS ${rss.samples.at(-1)?.mib} MiB`);
    },
  });
  const cpu = meter.read();
  const postgres = activityBetween(activity, await postgresActivity(server.databaseUrl), sent.messages);
  const statements = await tenths.end(sent.messages);
  const tables = cluster.statementsUrl ? await tableCounters(server.databaseUrl) : undefined;
  note(`loaded ${sent.messages.toLocaleString()} messages in ${sent.seconds.toFixed(1)} s (PostgreSQL: ${postgres.walBytesPerEvent} B of WAL an event, ${postgres.fullPageImagesPer1000Events} full-page images a 1,000, ${postgres.checkpoints} checkpoints, ${postgres.blocksReadPerEvent} blocks read outside shared_buffers an event)${projections ? '; waiting for the projections to catch up' : ''}`);
  const catchUpStarted = monotonicMs();
  let lastNote = 0;
  if (projections) {
    await server.projectionsCaughtUp(60 * 60_000, (checkpoints) => {
      const seconds = (monotonicMs() - catchUpStarted) / 1000;
      if (seconds - lastNote < 15) return;
      lastNote = seconds;
      note(`  catching up: ${checkpoints.map((checkpoint) => `${checkpoint.name} at ${checkpoint.position ?? 'start'}`).join(', ')} (head ${checkpoints[0]?.head})`);
    });
  }
  const catchUpSeconds = (monotonicMs() - catchUpStarted) / 1000;
  const memory = rss.stop();
  return {
    customers,
    messages: sent.messages,
    seconds: sent.seconds,
    eventsPerSecond: sent.messages / sent.seconds,
    catchUpSeconds,
    cpu,
    rates,
    postgres,
    ...(statements && { statements, tables }),
    /** Server RSS while loading and while the projections caught up. */
    rss: memory,
    rssSeries: rss.series(),
  };
}

type Snapshot = { messages: number; counters: StatementCounters } | undefined;

/** With `statementsUrl` (--statements): the statement counters at the start, at ~10 % and ~90 % of a load or rebuild, and at its end. */
class TenthSnapshots {
  private readonly snapshots: Promise<Snapshot>[];

  constructor(
    private readonly statementsUrl: string | undefined,
    private readonly databaseUrl: string,
  ) {
    this.snapshots = [this.take(0)];
  }

  /** `done` events so far, `share` of the whole. */
  reached(done: number, share: number): void {
    if ((this.snapshots.length === 1 && share >= 0.1) || (this.snapshots.length === 2 && share >= 0.9)) this.snapshots.push(this.take(done));
  }

  async end(done: number) {
    this.snapshots.push(this.take(done));
    return statementSpans(await Promise.all(this.snapshots));
  }

  private async take(messages: number): Promise<Snapshot> {
    return this.statementsUrl ? { messages, counters: await statementCounters(this.statementsUrl, this.databaseUrl) } : undefined;
  }
}

/** The first and the last tenth of a load, from four snapshots (start, ~10 %, ~90 %, end). */
function statementSpans(snapshots: Snapshot[]) {
  const [start, firstTenth, lastTenth, end] = snapshots;
  if (!start || !firstTenth || !lastTenth || !end) return undefined;
  const spans = {
    firstTenth: { messages: [start.messages, firstTenth.messages], ...statementsBetween(start.counters, firstTenth.counters, firstTenth.messages - start.messages) },
    lastTenth: { messages: [lastTenth.messages, end.messages], ...statementsBetween(lastTenth.counters, end.counters, end.messages - lastTenth.messages) },
  };
  note(
    `PostgreSQL's statement time an event: first tenth ${spans.firstTenth.totalMicrosPerEvent} µs, last tenth ${spans.lastTenth.totalMicrosPerEvent} µs (planning ${spans.firstTenth.planMicrosPerEvent} and ${spans.lastTenth.planMicrosPerEvent} µs more); the last tenth's largest:`,
  );
  const first = new Map(spans.firstTenth.statements.map((statement) => [statement.id, statement]));
  for (const statement of spans.lastTenth.statements.slice(0, 10)) {
    const before = first.get(statement.id);
    note(
      `  ${statement.execMicrosPerEvent} µs/event (first tenth ${before?.execMicrosPerEvent ?? '?'}), ${statement.callsPerEvent} calls/event, ${statement.execMicrosPerCall} µs/call (${before?.execMicrosPerCall ?? '?'}), ${statement.blocksHitPerCall} blocks hit/call (${before?.blocksHitPerCall ?? '?'}), planned ${statement.planMicrosPerEvent} µs/event on ${Math.round(statement.plansPerCall * 100)} % of calls: ${statement.query.slice(0, 110)}`,
    );
  }
  return spans;
}

/** Events in the log, and their average stored size. */
export function logSize(url: string): Promise<{ events: number; averageJsonbBytes: number; tableMiB: number }> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ events: string; bytes: string; size: string }>(
      `SELECT count(*) AS events, avg(pg_column_size(data) + pg_column_size(metadata))::int AS bytes,
              pg_total_relation_size('event_store_events') AS size FROM event_store_events`,
    );
    return { events: Number(rows[0]!.events), averageJsonbBytes: Number(rows[0]!.bytes), tableMiB: Math.round(Number(rows[0]!.size) / 2 ** 20) };
  });
}

/**
 * Rebuilds every projection by replay at once (`rebuildProjection` for each, as an operator would)
 * and waits until all have swapped in, watching the checkpoints table (not the `projections` query,
 * whose lag counts would load PostgreSQL); RSS of the server sampled throughout. `ask: false`: a
 * server started on a log its projections have never seen builds them by a rebuild on its own; the
 * clock starts when their runners connected, not when the server was started.
 */
export async function rebuildAll(server: TrailmapServer, events: number, postmasterPid: number, { ask = true, statementsUrl }: { ask?: boolean; statementsUrl?: string } = {}) {
  const names = await server.projectionNames();
  // With --statements: PostgreSQL's statements in the rebuild's first and last tenth, to tell what grows as the twins fill.
  const tenths = new TenthSnapshots(statementsUrl, server.databaseUrl);
  const watcher = new pg.Client({ connectionString: server.databaseUrl, application_name: 'bench-watch' });
  await watcher.connect();
  const rss = new RssSampler(server.pid, 250).start();
  const meter = new CpuMeter(server.pid, postmasterPid);
  let started = monotonicMs();
  try {
    if (ask) {
      for (const name of names) await server.graphql('mutation Rebuild($name: String!) { rebuildProjection(name: $name) { name } }', { name });
    } else {
      // The runners claim their projections as soon as they have connected, in the server's first seconds.
      for (const deadline = monotonicMs() + 60_000; ; await sleep(20)) {
        const { rows } = await watcher.query<{ ago: number | null }>(
          `SELECT extract(epoch FROM clock_timestamp() - min(backend_start)) * 1000 AS ago FROM pg_stat_activity WHERE starts_with(application_name, 'trailmap-projection-')`,
        );
        if (rows[0]?.ago != null) {
          started = monotonicMs() - Number(rows[0].ago);
          break;
        }
        if (monotonicMs() > deadline) throw new Error(`no projection runner connected within 60 s; see ${server.logFile}`);
      }
    }
    const finished = new Map<string, number>();
    const progress: { seconds: number; processed: number }[] = [];
    let lastNote = 0;
    for (;;) {
      const checkpoints = await readCheckpoints(watcher);
      const seconds = (monotonicMs() - started) / 1000;
      const failed = checkpoints.find((checkpoint) => checkpoint.state === 'FAILED');
      if (failed) throw new Error(`the rebuild of ${failed.name} FAILED; see ${server.logFile}`);
      for (const checkpoint of checkpoints) {
        if (names.includes(checkpoint.name) && !finished.has(checkpoint.name) && !checkpoint.rebuilding) finished.set(checkpoint.name, seconds);
      }
      const processed = checkpoints.reduce((sum, checkpoint) => sum + (finished.has(checkpoint.name) ? events : checkpoint.rebuildProcessed), 0);
      progress.push({ seconds: Math.round(seconds * 10) / 10, processed });
      // Counted in events of the log: each projection goes through every one.
      const replayed = processed / names.length;
      tenths.reached(replayed, replayed / events);
      if (seconds - lastNote >= 15) {
        lastNote = seconds;
        note(`  rebuilding: ${checkpoints.map((checkpoint) => `${checkpoint.name} ${finished.has(checkpoint.name) ? 'done' : checkpoint.rebuildProcessed.toLocaleString()}`).join(', ')}; RSS ${rss.samples.at(-1)?.mib} MiB`);
      }
      if (finished.size === names.length) break;
      await sleep(250);
    }
    const seconds = Math.max(...finished.values());
    const cpu = meter.read();
    if (statementsUrl) note('the rebuild:');
    const statements = await tenths.end(events);
    return {
      projections: names,
      seconds,
      eventsPerSecond: events / seconds,
      finishedAfter: Object.fromEntries(finished),
      cpu,
      rss: rss.stop(),
      rssSeries: rss.series(),
      progress: progress.filter((_, index) => index % Math.max(1, Math.ceil(progress.length / 120)) === 0),
      ...(statements && { statements }),
    };
  } finally {
    rss.stop();
    await watcher.end();
  }
}
