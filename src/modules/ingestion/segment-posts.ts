import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpErrorAnswer } from '../core/http-error.filter.js';
import { answerJson, isPlainJsonBody, readJsonBody } from '../core/json-posts.js';
import type { Logger } from '../logging/logger.js';
import { SEGMENT_BODY_LIMIT, SegmentApi } from './segment-api.js';

const SEGMENT_PATH = /^\/v1\/([a-z]+)$/;
/** Segment's browser library posts its JSON as text/plain, to avoid CORS preflights. */
const SEGMENT_TYPES = /^(application\/json|text\/plain)$/i;

/**
 * The call of a plain JSON POST to the Segment API (`batch`, `track`, …): the path exactly, JSON (or
 * text/plain) in UTF-8, no content encoding. Anything else (another spelling of a path, a compressed
 * body, another charset) is undefined here, and goes through express and `SegmentController`.
 */
export function plainSegmentCall(request: IncomingMessage): string | undefined {
  if (request.method !== 'POST') return undefined;
  const call = SEGMENT_PATH.exec(request.url ?? '')?.[1];
  return call !== undefined && SegmentApi.isCall(call) && isPlainJsonBody(request, SEGMENT_TYPES) ? call : undefined;
}

/**
 * Answers a plain Segment POST without express (see `json-posts`): for one event a request, express's
 * router, body-parser and Nest's pipeline were a third of its CPU. The answers are the controller's.
 */
export function answerSegmentPost(api: SegmentApi, logger: Logger, call: string, request: IncomingMessage, response: ServerResponse): void {
  readJsonBody(request, response, SEGMENT_BODY_LIMIT, logger, async (body) => {
    try {
      await api.record(call, body, request.headers.authorization);
    } catch (error) {
      const answer = httpErrorAnswer(error, logger);
      return answerJson(response, answer.status, answer.body);
    }
    answerJson(response, 200, { success: true });
  });
}
