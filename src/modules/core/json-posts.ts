import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logging/logger.js';

/**
 * POSTs of plain JSON answered without express: its router, body-parser and Nest's controller
 * pipeline cost ~0.35 ms of CPU a request. The GraphQL endpoint and the Segment API each take the
 * requests they know this way (`graphql-posts`, `segment-posts`); anything else goes through
 * express. The body gets the same checks and refusals either way (size, UTF-8, JSON).
 */

/** The answer to a body refused before anything runs, the same on every endpoint. */
export const bodyRefusals = {
  tooLarge: (limit: number) => `The request body is larger than this endpoint accepts (${limit} bytes).`,
  invalidUtf8: 'The request body is not valid UTF-8.',
  invalidJson: (detail: string) => `The request body is not valid JSON: ${detail}`,
};

export function refuseBody(response: ServerResponse, status: number, message: string): void {
  answerJson(response, status, { success: false, code: 'BAD_USER_INPUT', message });
}

/** As express's `response.json`: the body serialized, its type and length. */
export function answerJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

const UTF8_CHARSET = /^\s*charset\s*=\s*"?utf-8"?\s*$/i;

/** Whether a request's body is declared as one of `mediaTypes` in UTF-8 (or no charset), without content encoding. */
export function isPlainJsonBody(request: IncomingMessage, mediaTypes: RegExp): boolean {
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  const [type, ...parameters] = (request.headers['content-type'] ?? '').split(';');
  if (!mediaTypes.test(type!.trim())) return false;
  return parameters.length === 0 || (parameters.length === 1 && UTF8_CHARSET.test(parameters[0]!));
}

/**
 * Reads a request's JSON body of at most `limit` bytes and hands it to `answer`; a body too large,
 * not UTF-8 or not JSON is refused as express's body-parser would, and nothing is answered twice.
 */
export function readJsonBody(request: IncomingMessage, response: ServerResponse, limit: number, logger: Logger, answer: (body: unknown) => Promise<void>): void {
  if (Number(request.headers['content-length']) > limit) return refuseBody(response, 413, bodyRefusals.tooLarge(limit));
  const chunks: Buffer[] = [];
  let size = 0;
  request.on('data', (chunk: Buffer) => {
    if (size > limit) return;
    size += chunk.length;
    if (size > limit) refuseBody(response, 413, bodyRefusals.tooLarge(limit));
    else chunks.push(chunk);
  });
  request.on('end', () => {
    if (size > limit) return;
    const raw = Buffer.concat(chunks, size);
    if (!isUtf8(raw)) return refuseBody(response, 400, bodyRefusals.invalidUtf8);
    let body: unknown;
    try {
      body = parseBody(raw.toString('utf8'));
    } catch (error) {
      return refuseBody(response, 400, bodyRefusals.invalidJson((error as Error).message));
    }
    answer(body).catch((error: unknown) => {
      logger.error({ err: error }, 'HTTP request failed');
      if (!response.headersSent) answerJson(response, 500, { success: false, code: 'INTERNAL_SERVER_ERROR', message: 'The request could not be answered.' });
      else response.destroy();
    });
  });
}

/** As express.json parses: an empty body is `{}`, a byte-order mark is dropped, and only an object or a list is JSON here. */
function parseBody(text: string): unknown {
  if (text.length === 0) return {};
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const first = /^[ \t\n\r]*(.)/.exec(json)?.[1];
  if (first !== '{' && first !== '[') throw new SyntaxError(`expected an object or a list, found ${first === undefined ? 'nothing' : `"${first}"`}`);
  return JSON.parse(json) as unknown;
}
