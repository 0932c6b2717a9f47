import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as EmbeddedPostgresModule from '../../src/modules/database/embedded-postgres.js';
import type * as MigrateModule from '../../src/modules/database/migrate.js';
import type * as LoggerModule from '../../src/modules/logging/logger.js';
import type * as JourneysModule from '../../src/demo/journeys.js';
import type * as SendDemoModule from '../../src/demo/send-demo.js';

/** The repository root (this file runs from bench/.build/bench/lib/). */
export const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
export const DIST = path.join(ROOT, 'dist');

/**
 * The project's own pieces, loaded from the build in dist/ (what `node dist/main.js` runs), typed
 * from their sources: the benchmarks measure the code as built, never a copy of it.
 */
export async function fromDist<T>(file: string): Promise<T> {
  return (await import(pathToFileURL(path.join(DIST, file)).href)) as T;
}

export const trailmap = {
  embeddedPostgres: () => fromDist<typeof EmbeddedPostgresModule>('modules/database/embedded-postgres.js'),
  migrate: () => fromDist<typeof MigrateModule>('modules/database/migrate.js'),
  logger: () => fromDist<typeof LoggerModule>('modules/logging/logger.js'),
  journeys: () => fromDist<typeof JourneysModule>('demo/journeys.js'),
  sendDemo: () => fromDist<typeof SendDemoModule>('demo/send-demo.js'),
};

export type DemoMessage = JourneysModule.DemoMessage;
export type JourneyOptions = JourneysModule.JourneyOptions;
export type Logger = LoggerModule.Logger;
