import { Global, Module } from '@nestjs/common';
import { SECRETS } from '../core/core.module.js';
import { Database } from '../database/database.js';
import { KeyVault } from './key-vault.js';
import type { Secrets } from './secrets.js';

@Global()
@Module({
  providers: [
    {
      provide: KeyVault,
      inject: [Database, SECRETS],
      useFactory: (database: Database, secrets: Secrets) => new KeyVault(database, secrets.masterKey),
    },
  ],
  exports: [KeyVault],
})
export class PrivacyModule {}
