import { Body, Controller, Headers, HttpCode, Param, Post, UseFilters } from '@nestjs/common';
import { HttpErrorFilter } from '../core/http-error.filter.js';
import { SegmentApi } from './segment-api.js';

/**
 * The Segment API's requests that express parses: those that are not plain JSON (a compressed body,
 * another charset), and paths `segment-posts` does not take. Plain JSON is answered directly.
 */
@Controller('v1')
@UseFilters(HttpErrorFilter)
export class SegmentController {
  constructor(private readonly api: SegmentApi) {}

  // Express matches paths without regard to case: `/v1/BATCH` is a batch.
  @Post('batch')
  @HttpCode(200)
  async batch(@Body() body: unknown, @Headers('authorization') authorization?: string) {
    await this.api.record('batch', body, authorization);
    return { success: true };
  }

  @Post(':call')
  @HttpCode(200)
  async call(@Param('call') call: string, @Body() body: unknown, @Headers('authorization') authorization?: string) {
    await this.api.record(call, body, authorization);
    return { success: true };
  }
}
