import { Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module.js';
import { IngestionModule } from '../ingestion/ingestion.module.js';
import { PrivacyResolver } from './privacy.resolver.js';
import { PrivacyService } from './privacy.service.js';

/** Erasure and access requests, on top of the customer reads and the identity directory. */
@Module({
  imports: [CustomersModule, IngestionModule],
  providers: [PrivacyService, PrivacyResolver],
  exports: [PrivacyService],
})
export class PrivacyRightsModule {}
