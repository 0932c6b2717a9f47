import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ParentMessage, WorkerMessage } from './fanout-worker.js';
import { runBenchmark, type Outcome } from './lib/harness.js';
import { note, type Figure } from './lib/report.js';
import type { TrailmapServer } from './lib/server.js';
import { Histogram, monotonicMs, sleep } from './lib/stats.js';
import { CpuMeter, RssSampler } from './lib/system.js';
import { noteStatements, statementsSince } from './lib/cluster.js';

export const description = 'live fan-out: 1,000 journeyStageChanged subscriptions, stage changes recorded at 200/s, time from the mutation returning to the message arriving';

/** Latencies are also summarized by window of the run, so that its first seconds (each followed customer's first change) show apart from the rest. */
const WINDOW_MS = 5_000;

const RECORD_EVENTS = `mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id customerId } } }`;
/** The lifecycle in order, and an event type that moves a customer into each stage. */
const STAGE_EVENTS: [string, string, Record<string, unknown>][] = [
  ['DISCOVERY', 'Ad Impression', { ad_id: 'ad-1', campaign_id: 'spring', source: 'search', medium: 'cpc' }],
  ['ENGAGEMENT', 'Product Viewed', { product_id: 'p-1', name: 'Trail Runner GTX', price: 129.95, currency: 'EUR' }],
  ['CONVERSION', 'Product Added', { cart_id: 'cart-1', product_id: 'p-1', price: 129.95, quantity: 1, currency: 'EUR' }],
  ['POST_PURCHASE', 'Order Shipped', { order_id: 'order-1', carrier: 'DHL' }],
  ['RETENTION', 'Loyalty Program Joined', { program_id: 'trail-club', tier: 'silver', points: 100 }],
];

type Mode = 'all' | 'customer';

/**
 * Live fan-out: N graphql-ws connections with one `journeyStageChanged` subscription each, spread over
 * a few subscriber processes, while stage changes are recorded at a fixed rate (open loop). Each
 * message is timed from the moment its `recordEvents` returned to the client. Two shapes:
 * `all` — every subscription unfiltered, so each change goes to every subscriber (dashboards), and
 * `customer` — each subscription follows one customer (journey frontends), so each change goes to one.
 */
export function fanout(argv: string[]): Promise<Outcome> {
  return runBenchmark('fanout', argv, async (bench) => {
    const { options, cluster } = bench;
    const subscriptions = options.number('subscriptions', 1_000);
    const rate = options.number('rate', 200);
    const seconds = options.number('duration', 20);
    const workerCount = options.number('workers', 2);
    const modes: Mode[] = options.values.mode ? [options.text('mode', 'all', ['all', 'customer'] as const)] : ['customer', 'all'];
    const projections = options.text('projections', 'worker', ['worker', 'on', 'separate'] as const);
    const server = await bench.startServer({ projections });
    const figures: Figure[] = [];
    const details: Record<string, unknown> = {};
    for (const mode of modes) {
      const result = await fanoutRun(server, { mode, subscriptions, rate, seconds, workerCount, postmasterPid: cluster.postmasterPid, statementsUrl: cluster.statementsUrl }).catch((error: unknown) => {
        note(`${mode}: the run failed: ${(error as Error).message}`);
        details[`${mode}Failure`] = (error as Error).message;
        return undefined;
      });
      if (!result) {
        figures.push({ figure: `${subscriptions} subscriptions, ${mode}: run failed (${String(details[`${mode}Failure`]).slice(0, 60)})`, unit: '', trailmap: Number.NaN, target: '≤ 50 ms', pass: false });
        continue;
      }
      details[mode] = result;
      const label = mode === 'all' ? `${subscriptions} unfiltered subscriptions (each change to all)` : `${subscriptions} subscriptions by customerId (each change to one)`;
      figures.push(
        { figure: `${label}: p50`, unit: 'ms', trailmap: result.latency.p50 },
        { figure: `${label}: p99`, unit: 'ms', trailmap: result.latency.p99, target: '≤ 50 ms', pass: result.latency.p99 <= 50 },
        { figure: `${label}: dropped of ${result.expected.toLocaleString()}`, unit: 'messages', trailmap: result.dropped, target: '0', pass: result.dropped === 0 },
      );
    }
    return {
      title: `Live fan-out — ${subscriptions} subscriptions over ${workerCount} subscriber processes, stage changes at ${rate}/s for ${seconds} s (projections ${projections})`,
      figures,
      options: { subscriptions, rate, seconds, workerCount, modes, ...(projections !== 'worker' && { projections }) },
      details,
    };
  });
}

async function fanoutRun(
  server: TrailmapServer,
  {
    mode,
    subscriptions,
    rate,
    seconds,
    workerCount,
    postmasterPid,
    statementsUrl,
  }: { mode: Mode; subscriptions: number; rate: number; seconds: number; workerCount: number; postmasterPid: number; statementsUrl?: string },
) {
  const run = `${mode}-${Date.now().toString(36)}`;
  const customers = Array.from({ length: subscriptions }, (_, index) => `fanout-${run}-${index}`);
  const workers = await startWorkers(server, mode, subscriptions, workerCount, customers);
  try {
    const results = new Map<ChildProcess, Extract<WorkerMessage, { kind: 'result' }>>();
    const allReceived = new Map<string, number>();
    let resetDone = 0;
    for (const worker of workers) {
      worker.process.on('message', (message: WorkerMessage) => {
        if (message.kind === 'all-received') allReceived.set(message.key, (allReceived.get(message.key) ?? 0) + 1);
        if (message.kind === 'reset-done') resetDone += 1;
        if (message.kind === 'result') results.set(worker.process, message);
      });
    }
    const tell = (message: ParentMessage, only?: number) => workers.forEach((worker, index) => (only === undefined || only === index) && worker.process.send(message));

    // Ready: in `all` mode a probe change must reach every subscription; by customer, the server must count every subscription
    // as open (its /metrics gauge). graphql-ws gives no acknowledgement of a subscribe, and a change recorded before its
    // subscription is in place never reaches it: it would be counted as dropped.
    if (mode === 'all') {
      const deadline = Date.now() + 120_000;
      for (let attempt = 1; ; attempt++) {
        const probe = `fanout-${run}-probe-${attempt}`;
        await record(server, probe, 0);
        const next = Date.now() + 3_000;
        while ((allReceived.get(`${probe}/DISCOVERY`) ?? 0) < workers.length && Date.now() < next) await sleep(50);
        if ((allReceived.get(`${probe}/DISCOVERY`) ?? 0) === workers.length) break;
        if (Date.now() > deadline) throw new Error('no probe stage change reached every subscription within 120 s');
      }
    } else {
      await subscriptionsOpen(server, subscriptions, 120_000);
    }
    // Then the steady state: opening a thousand sockets leaves the server and the subscriber processes busy for a moment
    // (changes recorded at once waited up to 0.7 s), which is not what this measures.
    await sleep(3_000);
    // A worker busy opening its sockets may read a message that arrived before this one: measure once each has reset.
    tell({ kind: 'reset' });
    while (resetDone < workers.length) await sleep(10);

    const changes = Math.min(Math.round(rate * seconds), mode === 'customer' ? subscriptions * STAGE_EVENTS.length : Number.POSITIVE_INFINITY);
    note(`${mode}: ${subscriptions} subscriptions open; recording ${changes.toLocaleString()} stage changes at ${rate}/s`);
    const rss = new RssSampler(server.pid, 250).start();
    const meter = new CpuMeter(server.pid, postmasterPid);
    // With --statements: what PostgreSQL does for each change, from the first mutation until the changes have been delivered.
    const statementsUntil = await statementsSince(statementsUrl, server.databaseUrl);
    const mutationLatencies = new Histogram();
    let failedMutations = 0;
    const started = monotonicMs();
    const pending: Promise<void>[] = [];
    const recorded: string[] = [];
    const previousOf = new Map<string, Promise<unknown>>();
    for (let index = 0; index < changes; index++) {
      const due = started + (index * 1000) / rate;
      const wait = due - monotonicMs();
      if (wait > 1) await sleep(wait);
      // `all`: a new customer each time (null → DISCOVERY); by customer: round r moves every followed customer one stage on.
      const customerIndex = mode === 'all' ? index : index % subscriptions;
      const stage = mode === 'all' ? 0 : Math.floor(index / subscriptions);
      const customerId = mode === 'all' ? `fanout-${run}-c${index}` : customers[customerIndex]!;
      // A customer's next stage waits for its previous one to be acknowledged, or both could share a commit in either order.
      const previous = previousOf.get(customerId) ?? Promise.resolve();
      let sent = 0;
      const mutation = previous.then(() => {
        sent = monotonicMs();
        return record(server, customerId, stage);
      });
      previousOf.set(customerId, mutation.catch(() => undefined));
      pending.push(
        mutation.then(
          () => {
            const at = monotonicMs();
            mutationLatencies.record(at - sent);
            recorded.push(`${customerId}/${STAGE_EVENTS[stage]![0]}`);
            tell({ kind: 'returned', key: `${customerId}/${STAGE_EVENTS[stage]![0]}`, at }, mode === 'all' ? undefined : customerIndex % workers.length);
          },
          (error: unknown) => {
            failedMutations += 1;
            if (failedMutations === 1) note(`a recordEvents failed: ${(error as Error).message}`);
          },
        ),
      );
    }
    await Promise.all(pending);
    const achievedRate = changes / ((monotonicMs() - started) / 1000);
    const expected = (changes - failedMutations) * (mode === 'all' ? subscriptions : 1);
    // What is still on its way may arrive: once the journey projection has applied every change, 3 s more.
    // An overloaded server may not even answer that: the run still reports what arrived.
    const caughtUpAfter = await server.projectionsCaughtUp(60_000).catch((error: unknown) => {
      note(`${mode}: the projections' status did not come back (${(error as Error).message.slice(0, 120)}); finishing anyway`);
      return null;
    });
    await sleep(3_000);
    const cpu = meter.read();
    const statements = statementsUntil && (await statementsUntil(changes));
    if (statements) noteStatements(mode, 'change', statements);
    tell({ kind: 'finish' });
    const finishDeadline = monotonicMs() + 30_000;
    while (results.size < workers.length && monotonicMs() < finishDeadline) await sleep(50);
    const histogram = new Histogram();
    const windows: Histogram[] = [];
    let received = 0;
    let unmatched = 0;
    let closed = 0;
    let workerCpuSeconds = 0;
    const errors: Record<string, number> = {};
    for (const result of results.values()) {
      histogram.merge(result.histogram);
      result.windows.forEach((window, index) => (windows[index] ??= new Histogram()).merge(window));
      received += result.received;
      unmatched += result.unmatched;
      closed += result.closed;
      workerCpuSeconds += result.cpuSeconds;
      for (const [code, count] of Object.entries(result.errors)) errors[code] = (errors[code] ?? 0) + count;
    }
    const summary = histogram.summary();
    const byWindow = windows.map((window, index) => ({ fromSecond: (index * WINDOW_MS) / 1000, ...window.summary() }));
    // By customer: which recorded changes no subscriber saw (each goes to exactly one).
    const seen = new Set([...results.values()].flatMap((result) => result.keys));
    const missing = mode === 'customer' ? recorded.filter((key) => !seen.has(key)) : [];
    if (missing.length > 0) note(`${mode}: ${missing.length} changes never arrived, e.g. ${missing.slice(0, 5).join(', ')}`);
    note(`${mode}: p99 by ${WINDOW_MS / 1000} s from the start, by when the mutation returned: ${byWindow.map((window) => `${window.p99} ms (${window.count})`).join(', ')}`);
    note(`${mode}: p50 ${summary.p50} ms, p99 ${summary.p99} ms, received ${received.toLocaleString()} of ${expected.toLocaleString()}, errors ${JSON.stringify(errors)} (server ${cpu.serverCores} cores)`);
    return {
      changes,
      achievedRate,
      failedMutations,
      projectionsCaughtUpAfterSeconds: caughtUpAfter,
      expected,
      received,
      dropped: Math.max(0, expected - received),
      unmatched,
      missing: missing.slice(0, 50),
      closedSockets: closed,
      errors,
      latency: summary,
      latencyByWindow: byWindow,
      mutationLatency: mutationLatencies.summary(),
      cpu,
      ...(statements && { statements }),
      subscriberProcessCpuSeconds: workerCpuSeconds,
      serverRss: rss.stop(),
    };
  } finally {
    for (const worker of workers) if (worker.process.exitCode === null) worker.process.kill();
  }
}

/** Waits until the server counts `count` open `journeyStageChanged` subscriptions. */
async function subscriptionsOpen(server: TrailmapServer, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let open = 0;
  while (Date.now() < deadline) {
    const { body } = await server.get('/metrics');
    open = Number(/^trailmap_subscriptions\{subscription="journeyStageChanged"\} (\d+)$/m.exec(body)?.[1] ?? 0);
    if (open >= count) return;
    await sleep(100);
  }
  throw new Error(`${open} of ${count} subscriptions were open after ${timeoutMs / 1000} s`);
}

async function record(server: TrailmapServer, customerId: string, stage: number): Promise<void> {
  const [, type, properties] = STAGE_EVENTS[stage]!;
  await server.graphql(RECORD_EVENTS, { events: [{ type, userId: customerId, properties }] }, server.writeKey);
}

async function startWorkers(server: TrailmapServer, mode: Mode, subscriptions: number, count: number, customers: string[]) {
  const script = fileURLToPath(new URL('./fanout-worker.js', import.meta.url));
  const url = server.graphqlUrl.replace(/^http/, 'ws');
  const workers = Array.from({ length: count }, (_, index) => {
    const mine = customers.filter((_, customer) => customer % count === index);
    const process = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return { process, customers: mine, size: mode === 'customer' ? mine.length : Math.floor(subscriptions / count) + (index < subscriptions % count ? 1 : 0) };
  });
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          worker.process.once('error', reject);
          worker.process.on('message', (message: WorkerMessage) => message.kind === 'subscribed' && resolve());
          worker.process.send({ kind: 'start', url, key: server.adminKey, count: worker.size, windowMs: WINDOW_MS, ...(mode === 'customer' && { customers: worker.customers }) } satisfies ParentMessage);
        }),
    ),
  );
  return workers;
}
