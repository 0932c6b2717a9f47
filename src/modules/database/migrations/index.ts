import type { MigrationInterface } from 'typeorm';

/** Every schema change, in the order it is applied. */
export const migrations: (new () => MigrationInterface)[] = [];
