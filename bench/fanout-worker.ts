import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { Histogram, monotonicMs } from './lib/stats.js';

/**
 * A subscriber process of the fan-out benchmark: holds `customers.length` (or `count`) graphql-ws
 * connections with one `journeyStageChanged` subscription each, and times each message against the
 * moment the parent's mutation returned (CLOCK_MONOTONIC is shared by every process of the machine).
 */
export interface WorkerStart {
  kind: 'start';
  url: string;
  key: string;
  /** Subscriptions of this worker; with `customers`, subscription i follows customers[i]. */
  count: number;
  customers?: string[];
  /** The width of the windows the latencies are also kept by. */
  windowMs: number;
}

export type ParentMessage = WorkerStart | { kind: 'returned'; key: string; at: number } | { kind: 'reset' } | { kind: 'finish' };

export type WorkerMessage =
  | { kind: 'subscribed'; count: number }
  /** The counts are reset: what arrives from now on is measured. */
  | { kind: 'reset-done' }
  /** Every subscription of this worker has received the change `key` (the readiness probe). */
  | { kind: 'all-received'; key: string }
  | {
      kind: 'result';
      histogram: ReturnType<Histogram['toJSON']>;
      /** The same latencies by when their mutation returned: window i holds those of the measured run's [i, i + 1) × windowMs. */
      windows: ReturnType<Histogram['toJSON']>[];
      received: number;
      unmatched: number;
      errors: Record<string, number>;
      closed: number;
      cpuSeconds: number;
      keys: string[];
    };

const SUBSCRIPTION = `subscription Stage($customerId: ID) { journeyStageChanged(customerId: $customerId) { customerId from to at eventType } }`;

const clients: Client[] = [];
let histogram = new Histogram();
let windows: Histogram[] = [];
let measuredFrom = monotonicMs();
let windowMs = 5_000;
const returnedAt = new Map<string, number>();
const early = new Map<string, number[]>();
const errors: Record<string, number> = {};
const arrivals = new Map<string, number>();
let subscriptions = 0;
let received = 0;
let closed = 0;
const send = (message: WorkerMessage) => process.send!(message);

function arrived(key: string): void {
  const at = monotonicMs();
  received += 1;
  const returned = returnedAt.get(key);
  if (returned !== undefined) timed(returned, at);
  else {
    // The message beat the parent's word that its mutation returned.
    const list = early.get(key);
    if (list) list.push(at);
    else early.set(key, [at]);
  }
  const count = (arrivals.get(key) ?? 0) + 1;
  arrivals.set(key, count);
  if (count === subscriptions) send({ kind: 'all-received', key });
}

function timed(returned: number, at: number): void {
  histogram.record(at - returned);
  const window = Math.max(0, Math.floor((returned - measuredFrom) / windowMs));
  (windows[window] ??= new Histogram()).record(at - returned);
}

function start({ url, key, count, customers, windowMs: width }: WorkerStart): void {
  subscriptions = count;
  windowMs = width;
  for (let index = 0; index < count; index++) {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
      lazy: false,
      retryAttempts: 0,
      on: { closed: () => void (closed += 1) },
    });
    clients.push(client);
    client.subscribe<{ journeyStageChanged: { customerId: string; to: string } }>(
      { query: SUBSCRIPTION, variables: { customerId: customers?.[index] ?? null } },
      {
        next: (message) => {
          const change = message.data?.journeyStageChanged;
          if (change) arrived(`${change.customerId}/${change.to}`);
          for (const error of message.errors ?? []) {
            const code = String((error.extensions as { code?: string } | undefined)?.code ?? error.message);
            errors[code] = (errors[code] ?? 0) + 1;
          }
        },
        error: (error) => {
          const code = Array.isArray(error) ? String((error[0]?.extensions as { code?: string } | undefined)?.code ?? error[0]?.message) : error instanceof Error ? error.message : 'socket closed';
          errors[code] = (errors[code] ?? 0) + 1;
        },
        complete: () => undefined,
      },
    );
  }
  send({ kind: 'subscribed', count });
}

process.on('message', (message: ParentMessage) => {
  switch (message.kind) {
    case 'start':
      start(message);
      break;
    case 'returned': {
      returnedAt.set(message.key, message.at);
      for (const at of early.get(message.key) ?? []) timed(message.at, at);
      early.delete(message.key);
      break;
    }
    case 'reset': {
      // The readiness probe is over: measure from here.
      histogram = new Histogram();
      windows = [];
      measuredFrom = monotonicMs();
      returnedAt.clear();
      early.clear();
      received = 0;
      arrivals.clear();
      for (const code of Object.keys(errors)) delete errors[code];
      send({ kind: 'reset-done' });
      break;
    }
    case 'finish': {
      const usage = process.cpuUsage();
      const unmatched = [...early.values()].reduce((sum, list) => sum + list.length, 0);
      // By customer, the keys received (customer/stage), so the parent can tell which changes went missing.
      const keys = subscriptions <= 5_000 && arrivals.size <= 10_000 ? [...arrivals.keys()] : [];
      send({ kind: 'result', histogram: histogram.toJSON(), windows: Array.from(windows, (window) => (window ?? new Histogram()).toJSON()), received, unmatched, errors, closed, cpuSeconds: (usage.user + usage.system) / 1e6, keys });
      void Promise.all(clients.map((client) => client.dispose())).finally(() => setTimeout(() => process.exit(0), 100));
      break;
    }
  }
});
