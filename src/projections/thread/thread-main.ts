import 'reflect-metadata';
import { parentPort, resourceLimits, workerData } from 'node:worker_threads';
import { loadCatalog } from '../../modules/catalog/load-catalog.js';
import { Database } from '../../modules/database/database.js';
import { createLogger } from '../../modules/logging/logger.js';
import { servicesOf } from '../../modules/operations/command-context.js';
import type { Secrets } from '../../modules/privacy/secrets.js';
import type { ProjectionsThreadData } from './projections-thread.js';

// The projections thread: Trailmap's services without HTTP, with the projection runners and the scheduler on.
const { config, databaseUrl, secrets } = workerData as ProjectionsThreadData;
const logger = createLogger(config.LOG_LEVEL, false).child({ thread: 'projections' });
const database = new Database(databaseUrl, config.DATABASE_POOL_SIZE, 'trailmap-projections', { genericPlans: true });
const services = await servicesOf({
  config: { ...config, TRAILMAP_PROJECTIONS: 'on' },
  logger,
  database,
  secrets: asBuffers(secrets),
  catalog: await loadCatalog(config),
});
parentPort!.once('message', () => {
  void (async () => {
    await services.close();
    await database.end();
    logger.flush();
    parentPort!.close();
  })();
});
logger.info({ heapMb: resourceLimits.maxOldGenerationSizeMb }, 'the projections thread is running');
parentPort!.postMessage('ready');

/** Buffers cross into a thread as plain Uint8Arrays. */
function asBuffers(secrets: Secrets): Secrets {
  const buffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    ...secrets,
    masterKey: buffer(secrets.masterKey),
    previousMasterKeys: secrets.previousMasterKeys.map(buffer),
    pseudonymKey: buffer(secrets.pseudonymKey),
    identityKey: buffer(secrets.identityKey),
    apiKeys: secrets.apiKeys.map((key) => ({ ...key, digest: buffer(key.digest) })),
  };
}
