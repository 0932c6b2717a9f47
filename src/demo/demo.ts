import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidConfiguration, loadConfig } from '../config/config.js';
import { DemoTrafficFailed, sendDemoTraffic, type DemoProgress } from './send-demo.js';

const usage = `Usage: npm run demo -- [options]

Simulates customer journeys (ads, browsing, sign-ups, carts, orders, returns, support, loyalty)
and sends them to Trailmap's Segment API, /v1/batch. The same seed sends the same messages with
the same ids, so a re-run stores nothing twice.

Options:
  --customers N     customers to simulate (default 100)
  --rate R          messages per second, 0 for as fast as the server takes them (default 200)
  --seed S          seed of the simulation (default 1)
  --days D          length of the simulated window in days (default 60)
  --start ISO       beginning of the window (default: D days before now, on the hour)
  --url U           the server (default http://127.0.0.1:$PORT, PORT defaulting to 4000)
  --write-key K     API key with the ingest role (default $TRAILMAP_WRITE_KEY, else the admin key
                    the server generated in $TRAILMAP_DATA_DIR/admin.key)
  --batch-size B    messages per request, at most 2500 (default 100)
  --concurrency C   requests in flight (default 4)
  --help            this text
`;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A wrong command line: the message says which option and what it takes. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values } = parseOptions(argv);
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const customers = numberOption('customers', values.customers, { whole: true, least: 1 });
  const rate = numberOption('rate', values.rate, { least: 0 });
  const seed = numberOption('seed', values.seed, { whole: true });
  const days = numberOption('days', values.days, { least: Number.MIN_VALUE });
  const batchSize = numberOption('batch-size', values['batch-size'], { whole: true, least: 1 });
  const concurrency = numberOption('concurrency', values.concurrency, { whole: true, least: 1 });
  const start = values.start === undefined ? new Date(Math.floor((Date.now() - days * DAY) / HOUR) * HOUR).toISOString() : instantOption(values.start);

  const config = loadConfig();
  const url = values.url ?? `http://127.0.0.1:${config.PORT}`;
  const writeKey = values['write-key'] ?? (await defaultWriteKey(config.TRAILMAP_DATA_DIR));

  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
  const progress = progressReporter(process.stderr);
  process.stderr.write(
    `Simulating ${count(customers)} customers over ${days} days from ${start} (seed ${seed}) → ${url}/v1/batch at ${rate > 0 && Number.isFinite(rate) ? `${count(rate)} messages/s` : 'full speed'}\n`,
  );
  try {
    const result = await sendDemoTraffic({ url, writeKey, customers, rate, seed, start, days, batchSize, concurrency, onProgress: progress.update, signal: interrupt.signal });
    progress.done(true);
    process.stdout.write(
      `Sent ${count(result.messages)} messages for ${count(customers)} customers in ${count(result.requests)} requests ` +
        `(${count(result.retries)} retries) in ${result.seconds.toFixed(1)} s: ${count(result.messages / Math.max(result.seconds, 0.001))} messages/s.\n`,
    );
    return 0;
  } catch (error) {
    progress.done(false);
    if (error instanceof DemoTrafficFailed && interrupt.signal.aborted) {
      throw new DemoTrafficFailed(`Interrupted after ${count(error.sent)} messages. Run again with --seed ${seed} --start ${start} to send the rest: messages already stored are skipped.`, error.sent);
    }
    throw error;
  }
}

function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        customers: { type: 'string', default: '100' },
        rate: { type: 'string', default: '200' },
        seed: { type: 'string', default: '1' },
        days: { type: 'string', default: '60' },
        start: { type: 'string' },
        url: { type: 'string' },
        'write-key': { type: 'string' },
        'batch-size': { type: 'string', default: '100' },
        concurrency: { type: 'string', default: '4' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function numberOption(name: string, text: string, { whole = false, least = Number.NEGATIVE_INFINITY }: { whole?: boolean; least?: number }): number {
  const value = /^\s*inf(inity)?\s*$/i.test(text) ? Number.POSITIVE_INFINITY : Number(text);
  if (text.trim() === '' || Number.isNaN(value) || (whole && !Number.isSafeInteger(value)) || value < least) {
    const kind = whole ? 'a whole number' : 'a number';
    throw new UsageError(`--${name} takes ${kind}${least > 0 ? ' above 0' : least === 0 ? ' of 0 or more' : ''}, not ${JSON.stringify(text)}.`);
  }
  return value;
}

function instantOption(text: string): string {
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw new UsageError(`--start takes an ISO 8601 date or date-time, not ${JSON.stringify(text)}.`);
  return new Date(time).toISOString();
}

/** TRAILMAP_WRITE_KEY, else the admin key a server without configured keys generates into its data folder. */
async function defaultWriteKey(dataDir: string): Promise<string> {
  const fromEnvironment = process.env.TRAILMAP_WRITE_KEY?.trim();
  if (fromEnvironment) return fromEnvironment;
  const file = path.join(dataDir, 'admin.key');
  const key = await fs.readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (!key) {
    throw new UsageError(`No write key: pass --write-key, set TRAILMAP_WRITE_KEY, or start the server once without TRAILMAP_API_KEYS so that it writes ${file}.`);
  }
  return key;
}

/** One updating line on a terminal; a plain line every few seconds otherwise (CI logs, pipes). */
function progressReporter(stream: NodeJS.WriteStream) {
  const terminal = stream.isTTY === true;
  const every = terminal ? 100 : 5_000;
  let last: DemoProgress | undefined;
  let shownAt = 0;
  const show = (progress: DemoProgress, final: boolean) => {
    const share = Math.min(1, progress.messages / Math.max(1, progress.expected));
    const perSecond = progress.messages / Math.max(progress.seconds, 0.001);
    const eta = final ? 0 : Math.max(0, (progress.expected - progress.messages) / Math.max(perSecond, 1));
    const percent = `${Math.floor(share * 100)}%`.padStart(4);
    const figures = `${count(progress.messages)}/${count(progress.expected)} messages  ${count(perSecond)} msg/s  ETA ${duration(eta)}`;
    if (terminal) {
      const width = 24;
      const filled = Math.round(share * width);
      stream.write(`\r\x1b[2K[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${percent}  ${figures}${final ? '\n' : ''}`);
    } else {
      stream.write(`demo: ${percent.trim()}  ${figures}\n`);
    }
  };
  return {
    update(progress: DemoProgress) {
      last = progress;
      const now = performance.now();
      if (now - shownAt < every) return;
      shownAt = now;
      show(progress, false);
    },
    /** On a terminal, the bar's last state (full on success); the summary line follows. */
    done(succeeded: boolean) {
      if (terminal && last) show(succeeded ? { ...last, expected: last.messages } : last, true);
    },
  };
}

function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function duration(seconds: number): string {
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = String(whole % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const known = error instanceof UsageError || error instanceof DemoTrafficFailed || error instanceof InvalidConfiguration || error instanceof RangeError;
    const text = known ? (error as Error).message : String((error as Error)?.stack ?? error);
    process.stderr.write(`demo: ${text}${error instanceof UsageError ? '\n\nRun with --help for the options.' : ''}\n`);
    process.exit(1);
  },
);
