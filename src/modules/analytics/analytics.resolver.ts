import { Args, Context, Query, Resolver } from '@nestjs/graphql';
import { authorize } from '../auth/authorize.js';
import type { RequestContext } from '../graphql/graphql.options.js';
import { AnalyticsService } from './analytics.service.js';

@Resolver()
export class AnalyticsResolver {
  constructor(private readonly analytics: AnalyticsService) {}

  @Query('stageCounts')
  stageCounts(@Context() context: RequestContext) {
    authorize(context.principal, 'analytics:read');
    return this.analytics.stageCounts();
  }

  @Query('journeyFunnel')
  async journeyFunnel(@Args('from') from: Date | undefined, @Args('to') to: Date | undefined, @Context() context: RequestContext) {
    authorize(context.principal, 'analytics:read');
    return { from: from ?? null, to: to ?? null, steps: await this.analytics.funnel(from ?? undefined, to ?? undefined) };
  }

  @Query('dailyActivity')
  dailyActivity(@Args('from') from: Date | undefined, @Args('to') to: Date | undefined, @Context() context: RequestContext) {
    authorize(context.principal, 'analytics:read');
    return this.analytics.dailyActivity(from ?? undefined, to ?? undefined);
  }
}
