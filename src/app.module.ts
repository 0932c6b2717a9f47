import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module, type DynamicModule } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { CONFIG, CoreModule, type Runtime } from './modules/core/core.module.js';
import { graphqlOptions } from './modules/graphql/graphql.options.js';
import { HealthController } from './modules/operations/health.controller.js';
import type { Config } from './config/config.js';

@Module({})
export class AppModule {
  static register(runtime: Runtime): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.register(runtime),
        GraphQLModule.forRootAsync<ApolloDriverConfig>({
          driver: ApolloDriver,
          inject: [CONFIG],
          useFactory: (config: Config) => graphqlOptions(config),
        }),
      ],
      controllers: [HealthController],
    };
  }
}
