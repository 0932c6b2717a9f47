import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/modules/database/migrate.js';
import { createLogger } from '../../src/modules/logging/logger.js';

export const silentLogger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent', false);

function serverUrl(): URL {
  const url = process.env.TRAILMAP_TEST_DATABASE_URL;
  if (!url) throw new Error('TRAILMAP_TEST_DATABASE_URL is not set: run the tests with `npm test`.');
  return new URL(url);
}

async function onServer<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl().toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of the run's PostgreSQL, for one test file; `migrated` applies the schema. */
export async function createTestDatabase({ migrated = true } = {}): Promise<TestDatabase> {
  const name = `test_${randomBytes(6).toString('hex')}`;
  await onServer((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  if (migrated) await migrate(url.toString(), silentLogger);
  return {
    url: url.toString(),
    name,
    drop: () => onServer((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
