import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { Config } from '../../config/config.js';
import { Database } from '../database/database.js';
import type { Logger } from '../logging/logger.js';

export const CONFIG = Symbol('trailmap.config');
export const LOGGER = Symbol('trailmap.logger');

/** What exists before Nest starts: configuration, the logger and the database pool. */
export interface Runtime {
  config: Config;
  logger: Logger;
  database: Database;
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
      ],
      exports: [CONFIG, LOGGER, Database],
    };
  }
}
