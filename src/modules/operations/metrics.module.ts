import { Global, Module } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ProjectionsService } from '../../projections/projections.service.js';
import { Database } from '../database/database.js';
import { CustomerUpdatesFeed } from '../live/customer-updates.feed.js';
import { RecordedEventsFeed } from '../live/recorded-events.feed.js';
import { StageChangesFeed } from '../live/stage-changes.feed.js';
import { MetricsController } from './metrics.controller.js';
import { Metrics } from './metrics.js';

/** Services are looked up when scraped, so that metrics depend on nothing at start-up (and an operator command has none of the feeds). */
function optional<T>(refs: ModuleRef, type: abstract new (...args: never[]) => T): T | undefined {
  try {
    return refs.get(type, { strict: false });
  } catch {
    return undefined;
  }
}

@Global()
@Module({
  providers: [
    {
      provide: Metrics,
      inject: [ModuleRef, Database],
      useFactory: (refs: ModuleRef, database: Database) =>
        new Metrics({
          projections: async () => (await optional(refs, ProjectionsService)?.statuses()) ?? [],
          projectionLag: (position) => optional(refs, ProjectionsService)?.lag(position) ?? Promise.resolve(0),
          pool: () => ({ total: database.pool.totalCount, idle: database.pool.idleCount, waiting: database.pool.waitingCount }),
          subscriptions: () => ({
            journeyStageChanged: optional(refs, StageChangesFeed)?.subscriberCount ?? 0,
            customerUpdated: optional(refs, CustomerUpdatesFeed)?.subscriberCount ?? 0,
            eventRecorded: optional(refs, RecordedEventsFeed)?.subscriberCount ?? 0,
          }),
        }),
    },
  ],
  controllers: [MetricsController],
  exports: [Metrics],
})
export class MetricsModule {}
