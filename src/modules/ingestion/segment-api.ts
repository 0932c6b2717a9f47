import { Injectable } from '@nestjs/common';
import { ValidationFailed } from '../../domain/errors.js';
import { fromSegmentBatch, fromSegmentMessage, segmentCalls, type SegmentCall } from '../../domain/ingestion/segment.js';
import { ApiKeyring } from '../auth/api-keys.js';
import { authorize, presentedKey } from '../auth/authorize.js';
import { IngestionService } from './ingestion.service.js';

/** Segment's size limit for a request to its API. */
export const SEGMENT_BODY_LIMIT = 500 * 1024;

/**
 * The Segment HTTP Tracking API, so that Segment and RudderStack client libraries work unchanged:
 * `/v1/batch` and one path per call. The write key is the HTTP Basic user name (or `writeKey` in the
 * body); it must have the ingest role. Served by `SegmentController` through express, and by
 * `segment-posts` directly for plain JSON.
 */
@Injectable()
export class SegmentApi {
  constructor(
    private readonly ingestion: IngestionService,
    private readonly keyring: ApiKeyring,
  ) {}

  /** Whether `/v1/{call}` is a path of the API (`call` as sent, any other name is refused by `record`). */
  static isCall(call: string): boolean {
    return call === 'batch' || Object.hasOwn(segmentCalls, call);
  }

  /** Records the events of a request to `/v1/{call}`; throws what the caller is answered with. */
  async record(call: string, body: unknown, authorization: string | undefined): Promise<void> {
    const message = this.authorized(body, authorization);
    const receivedAt = new Date().toISOString();
    if (call === 'batch') {
      const { events, problems } = fromSegmentBatch(message, receivedAt);
      if (events.length === 0 && problems.length > 0) throw new ValidationFailed(problems);
      await this.ingestion.record(events, { source: 'segment', receivedAt, problems });
      return;
    }
    if (!SegmentApi.isCall(call)) {
      throw new ValidationFailed([{ field: 'path', rule: 'enum', message: `/v1/${call} is not a Segment call; use ${Object.keys(segmentCalls).join(', ')} or batch` }]);
    }
    await this.ingestion.record([fromSegmentMessage(call as SegmentCall, message, { receivedAt })], { source: 'segment', receivedAt });
  }

  private authorized(body: unknown, authorization: string | undefined): Record<string, unknown> {
    const message = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    const writeKey = presentedKey(authorization) ?? (typeof message?.writeKey === 'string' ? message.writeKey : undefined);
    authorize(this.keyring.authenticate(writeKey), 'events:record');
    if (!message) throw new ValidationFailed([{ field: 'body', rule: 'type', message: 'the body must be a JSON object' }]);
    return message;
  }
}
