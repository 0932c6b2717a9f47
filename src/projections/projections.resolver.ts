import { Args, Context, Mutation, Query, Resolver } from '@nestjs/graphql';
import { authorize } from '../modules/auth/authorize.js';
import type { RequestContext } from '../modules/graphql/graphql.options.js';
import { ProjectionsService } from './projections.service.js';

export const projectionTypeDefs = /* GraphQL */ `
  "How a rebuild by replay is going: it fills new tables beside the live ones, then swaps them in."
  type RebuildProgress {
    position: String
    processedEvents: Float!
    "Events of the log the rebuild has still to apply."
    lag: Float
  }

  extend type ProjectionStatus {
    eventsPerSecond: Float!
    "The event the projection failed on, when it is FAILED."
    lastErrorEventId: ID
    "True while an instance runs the projection."
    active: Boolean!
    rebuild: RebuildProgress
  }
`;

@Resolver()
export class ProjectionsResolver {
  constructor(private readonly projections: ProjectionsService) {}

  @Query('projections')
  list(@Context() context: RequestContext) {
    authorize(context.principal, 'projections:read');
    return this.projections.statuses();
  }

  @Mutation('rebuildProjection')
  rebuild(@Args('name') name: string, @Context() context: RequestContext) {
    authorize(context.principal, 'projections:rebuild');
    return this.projections.requestRebuild(name);
  }
}
