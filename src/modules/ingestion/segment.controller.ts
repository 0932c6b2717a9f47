import { Body, Controller, Headers, HttpCode, Param, Post, UseFilters } from '@nestjs/common';
import { ValidationFailed } from '../../domain/errors.js';
import { fromSegmentBatch, fromSegmentMessage, segmentCalls, type SegmentCall } from '../../domain/ingestion/segment.js';
import { ApiKeyring } from '../auth/api-keys.js';
import { authorize, presentedKey } from '../auth/authorize.js';
import { HttpErrorFilter } from '../core/http-error.filter.js';
import { IngestionService } from './ingestion.service.js';

/**
 * The Segment HTTP Tracking API, so that Segment and RudderStack client libraries work unchanged.
 * The write key is the HTTP Basic user name (or `writeKey` in the body); it must have the ingest role.
 */
@Controller('v1')
@UseFilters(HttpErrorFilter)
export class SegmentController {
  constructor(
    private readonly ingestion: IngestionService,
    private readonly keyring: ApiKeyring,
  ) {}

  @Post('batch')
  @HttpCode(200)
  async batch(@Body() body: unknown, @Headers('authorization') authorization?: string) {
    const message = this.authorized(body, authorization);
    const receivedAt = new Date().toISOString();
    const { events, problems } = fromSegmentBatch(message, receivedAt);
    if (events.length === 0 && problems.length > 0) throw new ValidationFailed(problems);
    await this.ingestion.record(events, { source: 'segment', receivedAt, problems });
    return { success: true };
  }

  @Post(':call')
  @HttpCode(200)
  async call(@Param('call') call: string, @Body() body: unknown, @Headers('authorization') authorization?: string) {
    const message = this.authorized(body, authorization);
    if (!(call in segmentCalls)) {
      throw new ValidationFailed([{ field: 'path', rule: 'enum', message: `/v1/${call} is not a Segment call; use ${Object.keys(segmentCalls).join(', ')} or batch` }]);
    }
    const receivedAt = new Date().toISOString();
    await this.ingestion.record([fromSegmentMessage(call as SegmentCall, message, { receivedAt })], { source: 'segment', receivedAt });
    return { success: true };
  }

  private authorized(body: unknown, authorization: string | undefined): Record<string, unknown> {
    const message = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    const writeKey = presentedKey(authorization) ?? (typeof message?.writeKey === 'string' ? message.writeKey : undefined);
    authorize(this.keyring.authenticate(writeKey), 'events:record');
    if (!message) throw new ValidationFailed([{ field: 'body', rule: 'type', message: 'the body must be a JSON object' }]);
    return message;
  }
}
