import { Args, Context, Mutation, Resolver } from '@nestjs/graphql';
import { ValidationFailed } from '../../domain/errors.js';
import type { IncomingEvent } from '../../domain/ingestion/incoming-event.js';
import { authorize } from '../auth/authorize.js';
import type { RequestContext } from '../graphql/graphql.options.js';
import { IngestionService } from './ingestion.service.js';

/** Most events one `recordEvents` call may carry; larger batches go through /v1/batch or several calls. */
export const RECORD_EVENTS_LIMIT = 1_000;

@Resolver()
export class IngestionResolver {
  constructor(private readonly ingestion: IngestionService) {}

  @Mutation()
  async recordEvents(@Args('events') events: IncomingEvent[], @Context() context: RequestContext) {
    authorize(context.principal, 'events:record');
    if (events.length > RECORD_EVENTS_LIMIT) {
      throw new ValidationFailed([{ field: 'events', rule: 'max_items', message: `recordEvents takes at most ${RECORD_EVENTS_LIMIT} events per call` }]);
    }
    return { results: await this.ingestion.record(events, { source: 'graphql' }) };
  }
}
