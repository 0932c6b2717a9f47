import { Module } from '@nestjs/common';
import { SECRETS } from '../core/core.module.js';
import { Database } from '../database/database.js';
import type { Secrets } from '../privacy/secrets.js';
import { IdentityDirectory } from './identity-directory.js';
import { IngestionResolver } from './ingestion.resolver.js';
import { IngestionService } from './ingestion.service.js';
import { SegmentApi } from './segment-api.js';
import { SegmentController } from './segment.controller.js';

@Module({
  providers: [
    IngestionService,
    IngestionResolver,
    SegmentApi,
    {
      provide: IdentityDirectory,
      inject: [Database, SECRETS],
      useFactory: (database: Database, secrets: Secrets) => new IdentityDirectory(database, secrets.identityKey),
    },
  ],
  controllers: [SegmentController],
  exports: [IngestionService, IdentityDirectory, SegmentApi],
})
export class IngestionModule {}
