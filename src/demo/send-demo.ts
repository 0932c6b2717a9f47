import { SEGMENT_BATCH_LIMIT } from '../domain/ingestion/segment.js';
import { estimateMessageCount, generateJourneys, type DemoMessage, type JourneyOptions } from './journeys.js';

export interface DemoTrafficOptions extends JourneyOptions {
  /** The server's base URL, such as `http://127.0.0.1:4000`. */
  url: string;
  /** An API key with the ingest role, sent as the HTTP Basic user name as Segment clients do. */
  writeKey: string;
  /** Messages per second over the whole run; 0 or Infinity sends as fast as the server takes them. */
  rate: number;
  /** Messages per request (at most 2,500); smaller at low rates so that requests flow steadily. */
  batchSize?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  onProgress?: (progress: DemoProgress) => void;
  /** Stops handing out new requests; the ones in flight finish. */
  signal?: AbortSignal;
}

export interface DemoTrafficResult {
  /** Messages the server accepted. */
  messages: number;
  /** HTTP requests made, retries included. */
  requests: number;
  retries: number;
  seconds: number;
}

export interface DemoProgress extends DemoTrafficResult {
  /** Messages the run will send in all (an estimate for large populations). */
  expected: number;
}

/** The run cannot go on: the server refused a request, kept failing, or the run was interrupted. */
export class DemoTrafficFailed extends Error {
  constructor(
    message: string,
    readonly sent: number,
  ) {
    super(message);
    this.name = 'DemoTrafficFailed';
  }
}

/** Express's `500kb` limit on `/v1` is 512,000 bytes; stay under it with room to spare. */
const BODY_LIMIT_BYTES = 500_000;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_RETRIES = 8;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 15_000;
/** At low rates batches shrink so that at least this many requests go out per second. */
const MIN_REQUESTS_PER_SECOND = 4;

interface Batch {
  body: string;
  messages: number;
}

/**
 * Sends the simulated journeys to `/v1/batch`, paced to `rate`. A failed request (network error,
 * 429 or 5xx) is retried with backoff and the same body: the message ids make a retry store nothing
 * twice. Any other refusal stops the run with the server's answer.
 */
export async function sendDemoTraffic(options: DemoTrafficOptions): Promise<DemoTrafficResult> {
  const { url, writeKey, rate, concurrency = 4, onProgress, signal } = options;
  if (!(rate >= 0)) throw new RangeError(`rate must be 0 or more messages per second, not ${rate}`);
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency must be a whole number of 1 or more, not ${concurrency}`);
  const paced = rate > 0 && Number.isFinite(rate);
  const batchSize = Math.min(
    paced ? Math.max(1, Math.floor(rate / MIN_REQUESTS_PER_SECOND)) : Number.POSITIVE_INFINITY,
    Math.max(1, Math.min(SEGMENT_BATCH_LIMIT, Math.floor(options.batchSize ?? 100))),
  );
  const endpoint = `${url.replace(/\/+$/, '')}/v1/batch`;
  const authorization = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  const expected = estimateMessageCount(options);
  const batches = batchesOf(generateJourneys(options), batchSize);

  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const totals = { messages: 0, requests: 0, retries: 0 };
  let answered = false;
  let handedOut = 0;
  let failure: unknown;

  const post = async (batch: Batch): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      let problem: string;
      let backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt) * (0.75 + Math.random() / 2);
      try {
        totals.requests += 1;
        const response = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body: batch.body,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const answer = await response.text();
        answered = true;
        if (response.ok) return;
        problem = `${response.status} ${response.statusText}: ${answer.slice(0, 2_000)}`;
        if (response.status !== 429 && response.status < 500) {
          throw new DemoTrafficFailed(`${endpoint} refused a batch of ${batch.messages} messages with ${problem}`, totals.messages);
        }
        backoff = retryAfterMs(response.headers.get('retry-after')) ?? backoff;
      } catch (error) {
        if (error instanceof DemoTrafficFailed) throw error;
        problem = describeNetworkError(error);
        // Nothing ever answered: most likely no server, which waiting will not fix.
        if (!answered && networkCode(error) === 'ECONNREFUSED') {
          throw new DemoTrafficFailed(`cannot connect to ${endpoint} (${problem}). Is the Trailmap server running? Start it with \`npm start\`, or pass --url.`, 0);
        }
      }
      if (attempt >= MAX_RETRIES) {
        throw new DemoTrafficFailed(`${endpoint} failed ${attempt + 1} times in a row; the last answer: ${problem}`, totals.messages);
      }
      if (failure !== undefined || signal?.aborted) throw new DemoTrafficFailed(`gave up retrying after: ${problem}`, totals.messages);
      totals.retries += 1;
      await sleep(backoff);
    }
  };

  const worker = async (): Promise<void> => {
    while (failure === undefined && !signal?.aborted) {
      const next = batches.next();
      if (next.done) return;
      const batch = next.value;
      if (paced) {
        // Each batch is due when the messages handed out before it would have gone at `rate`.
        const due = started + (handedOut / rate) * 1000;
        handedOut += batch.messages;
        await sleep(due - performance.now());
      }
      await post(batch);
      totals.messages += batch.messages;
      onProgress?.({ ...totals, expected: Math.max(expected, totals.messages), seconds: seconds() });
    }
  };

  await Promise.all(
    Array.from({ length: concurrency }, () =>
      worker().catch((error: unknown) => {
        failure ??= error;
      }),
    ),
  );
  if (failure !== undefined) throw failure;
  if (signal?.aborted) throw new DemoTrafficFailed(`interrupted after ${totals.messages} messages`, totals.messages);
  return { ...totals, seconds: seconds() };
}

/**
 * `/v1/batch` bodies of up to `size` messages and under the body limit, each serialized once so a
 * retry sends exactly the same bytes. No `sentAt`: the server would shift every timestamp by the gap
 * between it and now, and the simulated times are the point.
 */
export function* batchesOf(messages: Iterable<DemoMessage>, size: number, limitBytes = BODY_LIMIT_BYTES): Generator<Batch> {
  const envelope = Buffer.byteLength('{"batch":[]}');
  let parts: string[] = [];
  let bytes = envelope;
  for (const message of messages) {
    const json = JSON.stringify(message);
    const length = Buffer.byteLength(json) + 1;
    if (parts.length > 0 && (parts.length >= size || bytes + length > limitBytes)) {
      yield { body: `{"batch":[${parts.join(',')}]}`, messages: parts.length };
      parts = [];
      bytes = envelope;
    }
    parts.push(json);
    bytes += length;
  }
  if (parts.length > 0) yield { body: `{"batch":[${parts.join(',')}]}`, messages: parts.length };
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 60_000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - Date.now()), 60_000);
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : error.message;
}

function networkCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
