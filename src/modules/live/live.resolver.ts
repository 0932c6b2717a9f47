import { Args, Context, Resolver, Subscription } from '@nestjs/graphql';
import type { JourneyStage } from '../../domain/customer-event.js';
import { can } from '../auth/api-keys.js';
import { authorize } from '../auth/authorize.js';
import type { RequestContext } from '../graphql/graphql.options.js';
import { CustomerUpdatesFeed } from './customer-updates.feed.js';
import { RecordedEventsFeed } from './recorded-events.feed.js';
import { StageChangesFeed } from './stage-changes.feed.js';

/**
 * Each message is the field's value as is; the operation's context lives as long as the subscription,
 * so its batching loaders start empty for every message, as they would for a new query.
 */
function eachMessageAfresh(message: unknown, _args: unknown, context: RequestContext): unknown {
  context.loaders.clear();
  return message;
}

@Resolver()
export class LiveResolver {
  constructor(
    private readonly stageChanges: StageChangesFeed,
    private readonly customerUpdates: CustomerUpdatesFeed,
    private readonly recordedEvents: RecordedEventsFeed,
  ) {}

  @Subscription('journeyStageChanged', { resolve: eachMessageAfresh })
  journeyStageChanged(@Args('customerId') customerId: string | null | undefined, @Args('to') to: JourneyStage | null | undefined, @Context() context: RequestContext) {
    authorize(context.principal, 'customers:read');
    return this.stageChanges.subscribe({ customerId: customerId ?? undefined, to: to ?? undefined });
  }

  @Subscription('customerUpdated', { resolve: eachMessageAfresh })
  customerUpdated(@Args('id') id: string, @Context() context: RequestContext) {
    authorize(context.principal, 'customers:read');
    return this.customerUpdates.subscribe(id);
  }

  @Subscription('eventRecorded', { resolve: eachMessageAfresh })
  eventRecorded(@Args('customerId') customerId: string | null | undefined, @Context() context: RequestContext) {
    const principal = authorize(context.principal, 'customers:read');
    return this.recordedEvents.subscribe({ customerId: customerId ?? undefined, personalData: can(principal, 'personal-data:read') });
  }
}
