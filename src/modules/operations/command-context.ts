import { Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Config } from '../../config/config.js';
import { ProjectionsModule } from '../../projections/projections.module.js';
import { loadCatalog } from '../catalog/load-catalog.js';
import { CoreModule, type Runtime } from '../core/core.module.js';
import { CustomersModule } from '../customers/customers.module.js';
import { Database } from '../database/database.js';
import { EventStoreModule } from '../event-store/event-store.module.js';
import { IngestionModule } from '../ingestion/ingestion.module.js';
import { NestPinoLogger, type Logger } from '../logging/logger.js';
import { PrivacyRightsModule } from '../privacy/privacy-rights.module.js';
import { PrivacyModule } from '../privacy/privacy.module.js';
import { MetricsModule } from './metrics.module.js';
import { resolveSecrets } from '../privacy/secrets.js';

/** The services of the server without its HTTP side. */
@Module({})
class CommandModule {
  static register(runtime: Runtime): DynamicModule {
    return {
      module: CommandModule,
      imports: [CoreModule.register(runtime), MetricsModule, EventStoreModule, PrivacyModule, IngestionModule, ProjectionsModule, CustomersModule, PrivacyRightsModule],
    };
  }
}

/** Trailmap's services without the HTTP side: for operator commands, and the projections thread. */
export function servicesOf(runtime: Runtime): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(CommandModule.register(runtime), { logger: new NestPinoLogger(runtime.logger) });
}

/** Runs an operator command against a database with Trailmap's services; projections run only when the command asks. */
export async function withServices<T>(config: Config, logger: Logger, databaseUrl: string, work: (services: INestApplicationContext) => Promise<T>): Promise<T> {
  const database = new Database(databaseUrl, 4, 'trailmap-cli');
  try {
    const [secrets, catalog] = await Promise.all([resolveSecrets(config, logger), loadCatalog(config)]);
    const services = await servicesOf({ config: { ...config, TRAILMAP_PROJECTIONS: 'off' }, logger, database, secrets, catalog });
    try {
      return await work(services);
    } finally {
      await services.close();
    }
  } finally {
    await database.end();
  }
}
