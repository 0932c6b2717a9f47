import { performance } from 'node:perf_hooks';
import { apiKeys } from './app.js';

/** One HTTP exchange as a client sees it: status and parsed body, or the network error instead. */
export interface Answer {
  status: number;
  body: any;
  ms: number;
  /** Set when no HTTP answer came back (connection refused or reset, timeout). */
  networkError?: string;
}

export async function post(url: string, body: string | Buffer, headers: Record<string, string>, timeoutMs = 30_000): Promise<Answer> {
  const started = performance.now();
  try {
    const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: response.status, body: parsed, ms: performance.now() - started };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { status: 0, body: undefined, ms: performance.now() - started, networkError: cause?.code ?? cause?.message ?? (error as Error).message };
  }
}

/** A GraphQL request over HTTP at a server's base URL (`http://127.0.0.1:port`). */
export function graphqlAt(baseUrl: string, query: string, variables?: Record<string, unknown>, key: string | undefined = apiKeys.admin): Promise<Answer> {
  return post(`${baseUrl}/graphql`, JSON.stringify({ query, variables }), {
    'content-type': 'application/json',
    ...(key && { authorization: `Bearer ${key}` }),
  });
}

/** A Segment HTTP API call (`/v1/<call>`), the write key as the HTTP Basic user name as Segment libraries send it. */
export function segmentAt(baseUrl: string, call: string, body: unknown, key: string | undefined = apiKeys.ingest): Promise<Answer> {
  return post(`${baseUrl}/v1/${call}`, typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), {
    'content-type': 'application/json',
    ...(key && { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` }),
  });
}

export const RECORD_EVENTS = 'mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id customerId duplicate } } }';

/** The ingestion answered success: a Segment `{ success: true }` or a recordEvents payload without errors. */
export function acknowledged(answer: Answer): boolean {
  if (answer.status !== 200 || !answer.body || typeof answer.body !== 'object') return false;
  if ('success' in answer.body) return answer.body.success === true;
  return !answer.body.errors && Boolean(answer.body.data?.recordEvents);
}

/** The answer a client may retry: HTTP 503 with code UNAVAILABLE, or GraphQL errors that are all UNAVAILABLE. */
export function retryable(answer: Answer): boolean {
  if (answer.status === 503 && answer.body?.code === 'UNAVAILABLE') return true;
  const errors = answer.body?.errors;
  return answer.status === 200 && Array.isArray(errors) && errors.length > 0 && errors.every((error: any) => error.extensions?.code === 'UNAVAILABLE');
}

/** A short description of an answer for assertion messages. */
export function describeAnswer(answer: Answer): string {
  if (answer.networkError) return `network error ${answer.networkError}`;
  return `${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`;
}
