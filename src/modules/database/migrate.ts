import { DataSource, type MigrationInterface } from 'typeorm';
import type { Logger } from '../logging/logger.js';
import type { Database } from './database.js';
import { migrations } from './migrations/index.js';

const MIGRATIONS_TABLE = 'trailmap_migrations';
/** Advisory lock key held while migrating, so instances starting together take turns. */
const MIGRATION_LOCK = 7_220_145_001;

/** Applies pending migrations (TypeORM, one transaction each) and returns their names. */
export async function migrate(url: string, logger: Logger): Promise<string[]> {
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    migrations,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    poolSize: 2,
  });
  await dataSource.initialize();
  const lock = dataSource.createQueryRunner();
  try {
    await lock.connect();
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    for (const migration of applied) logger.info({ migration: migration.name }, 'applied migration');
    return applied.map((migration) => migration.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await lock.release();
    await dataSource.destroy();
  }
}

/** Names of the migrations this build knows that the database has not applied yet. */
export async function pendingMigrations(database: Database): Promise<string[]> {
  const known = migrations.map(migrationName);
  try {
    const { rows } = await database.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`);
    const applied = new Set(rows.map((row) => row.name));
    return known.filter((name) => !applied.has(name));
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return known; // no migrations table yet
    throw error;
  }
}

function migrationName(migration: new () => MigrationInterface): string {
  return new migration().name ?? migration.name;
}
