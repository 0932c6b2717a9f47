import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { Config } from '../../config/config.js';
import type { EventCatalog } from '../../domain/catalog/index.js';
import { ApiKeyring } from '../auth/api-keys.js';
import { Database } from '../database/database.js';
import type { Logger } from '../logging/logger.js';
import type { Secrets } from '../privacy/secrets.js';

export const CONFIG = Symbol('trailmap.config');
export const LOGGER = Symbol('trailmap.logger');
export const SECRETS = Symbol('trailmap.secrets');
export const CATALOG = Symbol('trailmap.catalog');

/** What exists before Nest starts: configuration, logger, database pool, keys and the event catalog. */
export interface Runtime {
  config: Config;
  logger: Logger;
  database: Database;
  secrets: Secrets;
  catalog: EventCatalog;
}

@Global()
@Module({})
export class CoreModule {
  static register(runtime: Runtime): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: CONFIG, useValue: runtime.config },
        { provide: LOGGER, useValue: runtime.logger },
        { provide: Database, useValue: runtime.database },
        { provide: SECRETS, useValue: runtime.secrets },
        { provide: CATALOG, useValue: runtime.catalog },
        { provide: ApiKeyring, useValue: new ApiKeyring(runtime.secrets.apiKeys) },
      ],
      exports: [CONFIG, LOGGER, Database, SECRETS, CATALOG, ApiKeyring],
    };
  }
}
