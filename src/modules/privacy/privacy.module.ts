import { Global, Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import { SECRETS } from '../core/core.module.js';
import { Database } from '../database/database.js';
import { Notifications } from '../event-store/postgres/notifications.js';
import { AccessLog } from './access-log.js';
import { KeyVault, KEYS_DESTROYED_CHANNEL } from './key-vault.js';
import type { Secrets } from './secrets.js';

@Global()
@Module({
  providers: [
    AccessLog,
    {
      provide: KeyVault,
      inject: [Database, SECRETS],
      useFactory: (database: Database, secrets: Secrets) =>
        new KeyVault(database, secrets.masterKey, {
          previousMasterKeys: secrets.previousMasterKeys,
          destroyed: new Notifications(database, KEYS_DESTROYED_CHANNEL),
        }),
    },
  ],
  exports: [KeyVault, AccessLog],
})
export class PrivacyModule implements OnModuleDestroy {
  constructor(@Inject(KeyVault) private readonly keys: KeyVault) {}

  onModuleDestroy() {
    return this.keys.close();
  }
}
