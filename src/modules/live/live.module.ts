import { Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module.js';
import { IngestionModule } from '../ingestion/ingestion.module.js';
import { CustomerUpdatesFeed } from './customer-updates.feed.js';
import { LiveResolver } from './live.resolver.js';
import { RecordedEventsFeed } from './recorded-events.feed.js';
import { StageChangesFeed } from './stage-changes.feed.js';

/** The contract's subscriptions: every instance serves any subscriber, whichever instance made the change. */
@Module({
  imports: [CustomersModule, IngestionModule],
  providers: [StageChangesFeed, CustomerUpdatesFeed, RecordedEventsFeed, LiveResolver],
  exports: [StageChangesFeed, CustomerUpdatesFeed, RecordedEventsFeed],
})
export class LiveModule {}
