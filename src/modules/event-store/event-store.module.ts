import { Global, Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import type { Config } from '../../config/config.js';
import { CONFIG, LOGGER } from '../core/core.module.js';
import { Database } from '../database/database.js';
import type { Logger } from '../logging/logger.js';
import type { EventStore } from './event-store.port.js';
import { EventIdRegistry } from './eventstoredb/event-id-registry.js';
import { EventStoreDbEventStore } from './eventstoredb/eventstoredb-event-store.js';
import { PostgresEventStore } from './postgres/postgres-event-store.js';

export const EVENT_STORE = Symbol('trailmap.event-store');

/** The log: EventStoreDB when EVENTSTORE_CONNECTION_STRING is set, else PostgreSQL. */
export function createEventStore(config: Config, database: Database, logger: Logger): EventStore {
  if (config.EVENTSTORE_CONNECTION_STRING) {
    logger.info('the event log is in EventStoreDB');
    return new EventStoreDbEventStore(config.EVENTSTORE_CONNECTION_STRING, { logger, registry: new EventIdRegistry(database) });
  }
  return new PostgresEventStore(database);
}

@Global()
@Module({
  providers: [
    {
      provide: EVENT_STORE,
      inject: [CONFIG, Database, LOGGER],
      useFactory: createEventStore,
    },
  ],
  exports: [EVENT_STORE],
})
export class EventStoreModule implements OnModuleDestroy {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  onModuleDestroy() {
    return this.store.close();
  }
}
