import { InvalidConfiguration, loadConfig, type Config } from './config/config.js';
import { startTrailmap } from './app.js';
import { DataFolderInUse } from './modules/database/embedded-postgres.js';
import { createLogger } from './modules/logging/logger.js';
import { MissingSecret } from './modules/privacy/secrets.js';
import { InvalidCatalogExtension } from './domain/catalog/index.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof InvalidConfiguration)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(2);
}

const logger = createLogger(config.LOG_LEVEL);

try {
  const trailmap = await startTrailmap(config, logger);
  logger.info(
    { graphql: trailmap.graphqlUrl, embeddedDataDir: trailmap.embedded?.folder },
    `Trailmap is serving GraphQL at ${trailmap.graphqlUrl}`,
  );
  let signals = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    trailmap.stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
} catch (error) {
  if (error instanceof DataFolderInUse || error instanceof MissingSecret || error instanceof InvalidCatalogExtension) {
    logger.fatal(error.message);
    process.stderr.write(`${error.message}\n`);
  } else {
    logger.fatal({ err: error }, 'Trailmap did not start');
  }
  logger.flush();
  process.exit(1);
}
