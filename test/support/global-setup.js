// Runs outside Jest's module system, so it uses the build (`npm test` builds first).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedPostgres } from '../../dist/modules/database/embedded-postgres.js';
import { createLogger } from '../../dist/modules/logging/logger.js';

/** One embedded PostgreSQL for the whole run; every test file gets its own database in it. */
export default async function globalSetup() {
  const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'trailmap-test-'));
  const postgres = await EmbeddedPostgres.start(folder, createLogger(process.env.TEST_LOG_LEVEL ?? 'warn', false));
  process.env.TRAILMAP_TEST_DATABASE_URL = postgres.url;
  globalThis.trailmapTestPostgres = postgres;
}
