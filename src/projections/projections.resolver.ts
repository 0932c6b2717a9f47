import { Args, Context, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { authorize } from '../modules/auth/authorize.js';
import type { RequestContext } from '../modules/graphql/graphql.options.js';
import { ProjectionsService, type ProjectionStatus } from './projections.service.js';

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

@Resolver('ProjectionStatus')
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

  /** Counted only when asked for: the count reads the log's index from the checkpoint on. */
  @ResolveField('lag')
  lag(@Parent() status: ProjectionStatus) {
    return this.projections.lag(status.position);
  }
}

@Resolver('RebuildProgress')
export class RebuildProgressResolver {
  constructor(private readonly projections: ProjectionsService) {}

  @ResolveField('lag')
  lag(@Parent() rebuild: NonNullable<ProjectionStatus['rebuild']>) {
    return this.projections.lag(rebuild.position);
  }
}
