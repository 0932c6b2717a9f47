import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import type { Config } from './config/config.js';
import { ApiKeyring } from './modules/auth/api-keys.js';
import { CONFIG, CoreModule, LOGGER, type Runtime } from './modules/core/core.module.js';
import { EventStoreModule } from './modules/event-store/event-store.module.js';
import { GraphqlErrorFilter } from './modules/graphql/graphql-error.filter.js';
import { graphqlOptions } from './modules/graphql/graphql.options.js';
import { IngestionModule } from './modules/ingestion/ingestion.module.js';
import { LiveModule } from './modules/live/live.module.js';
import type { Logger } from './modules/logging/logger.js';
import { HealthController } from './modules/operations/health.controller.js';
import { MetricsModule } from './modules/operations/metrics.module.js';
import { PrivacyModule } from './modules/privacy/privacy.module.js';
import { AccessLog } from './modules/privacy/access-log.js';
import { PrivacyRightsModule } from './modules/privacy/privacy-rights.module.js';
import { privacyTypeDefs } from './modules/privacy/privacy.resolver.js';
import { projectionTypeDefs } from './projections/projections.resolver.js';
import { catalogTypeDefs } from './modules/catalog/catalog.resolver.js';
import { CustomersModule } from './modules/customers/customers.module.js';
import { recordedEventTypeDefs } from './modules/customers/customers.resolver.js';
import { ProjectionsModule } from './projections/projections.module.js';

@Module({})
export class AppModule {
  static register(runtime: Runtime): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.register(runtime),
        MetricsModule,
        EventStoreModule,
        PrivacyModule,
        IngestionModule,
        ProjectionsModule,
        CustomersModule,
        LiveModule,
        PrivacyRightsModule,
        GraphQLModule.forRootAsync<ApolloDriverConfig>({
          driver: ApolloDriver,
          inject: [CONFIG, ApiKeyring, LOGGER, AccessLog],
          useFactory: (config: Config, keyring: ApiKeyring, logger: Logger, accessLog: AccessLog) => graphqlOptions(config, keyring, logger, accessLog, [projectionTypeDefs, catalogTypeDefs, recordedEventTypeDefs, privacyTypeDefs]),
        }),
      ],
      controllers: [HealthController],
      providers: [{ provide: APP_FILTER, useClass: GraphqlErrorFilter }],
    };
  }
}
