import { Module } from '@nestjs/common';
import { AnalyticsResolver } from '../analytics/analytics.resolver.js';
import { AnalyticsService } from '../analytics/analytics.service.js';
import { CatalogResolver } from '../catalog/catalog.resolver.js';
import { CustomerConnectionResolver, CustomersResolver } from './customers.resolver.js';
import { CustomersService } from './customers.service.js';

/** The read side of the API: customers, journey analytics and the event catalog. */
@Module({
  providers: [CustomersService, CustomersResolver, CustomerConnectionResolver, AnalyticsService, AnalyticsResolver, CatalogResolver],
  exports: [CustomersService],
})
export class CustomersModule {}
