import type { MigrationInterface } from 'typeorm';
import { EventIdRegistry1764144100000 } from '../../event-store/eventstoredb/event-id-registry.migration.js';
import { EventStore1764144000000 } from '../../event-store/postgres/event-store.migration.js';
import { IdentityLinks1764144300000 } from '../../ingestion/identity-links.migration.js';
import { CustomerKeys1764144200000 } from '../../privacy/privacy.migration.js';

/** Every schema change, in the order it is applied. */
export const migrations: (new () => MigrationInterface)[] = [
  EventStore1764144000000,
  EventIdRegistry1764144100000,
  CustomerKeys1764144200000,
  IdentityLinks1764144300000,
];
