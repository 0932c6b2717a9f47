import type { MigrationInterface } from 'typeorm';
import { EventStore1764144000000 } from '../../event-store/postgres/event-store.migration.js';

/** Every schema change, in the order it is applied. */
export const migrations: (new () => MigrationInterface)[] = [EventStore1764144000000];
