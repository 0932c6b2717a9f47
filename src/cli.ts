import { parseArgs } from 'node:util';
import { configurationTable, InvalidConfiguration, loadConfig, type Config } from './config/config.js';
import { NotFound } from './domain/errors.js';
import { DataFolderInUse, EmbeddedPostgres } from './modules/database/embedded-postgres.js';
import { migrate } from './modules/database/migrate.js';
import { createLogger, type Logger } from './modules/logging/logger.js';
import { rebuildCommand } from './modules/operations/rebuild-command.js';
import { withServices } from './modules/operations/command-context.js';
import { EVENT_STORE } from './modules/event-store/event-store.module.js';
import type { EventStore } from './modules/event-store/event-store.port.js';
import { IdentityDirectory } from './modules/ingestion/identity-directory.js';
import { KeyVault } from './modules/privacy/key-vault.js';
import { PrivacyService } from './modules/privacy/privacy.service.js';

const PROJECTIONS = ['customer-profile', 'journey-stage', 'analytics', 'timeline'];

const usage = `Usage: npm run cli -- <command>

Commands:
  migrate          apply pending database migrations
  rebuild <name>   rebuild a projection by replay (customer-profile, journey-stage, analytics, timeline,
                   identity-links or all), with a progress bar; the server keeps serving the old tables
                   until the swap
  export <id>      print everything held on a customer as JSON, personal data opened (access request)
  rewrap-keys      re-wrap every customer data key under TRAILMAP_MASTER_KEY after a rotation
  config           print the configuration variables as a Markdown table
`;

/** The database of an operator command: DATABASE_URL, the running server's embedded one, or a fresh start of it. */
async function withDatabase<T>(config: Config, logger: Logger, work: (url: string) => Promise<T>): Promise<T> {
  if (config.DATABASE_URL) return work(config.DATABASE_URL);
  const running = await EmbeddedPostgres.runningUrl(config.TRAILMAP_DATA_DIR);
  if (running) return work(running);
  const embedded = await EmbeddedPostgres.start(config.TRAILMAP_DATA_DIR, logger);
  try {
    return await work(embedded.url);
  } finally {
    await embedded.stop();
  }
}

async function main(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, strict: false });
  const [command] = positionals;
  if (command === 'config') {
    process.stdout.write(`${configurationTable()}\n`);
    return 0;
  }
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  switch (command) {
    case 'migrate': {
      const applied = await withDatabase(config, logger, (url) => migrate(url, logger));
      process.stdout.write(applied.length ? `Applied ${applied.length} migration(s): ${applied.join(', ')}\n` : 'Nothing to migrate.\n');
      return 0;
    }
    case 'rebuild': {
      const names = positionals[1] === 'all' ? ['identity-links', ...PROJECTIONS] : positionals.slice(1);
      if (names.length === 0) throw new Error('rebuild needs the name of a projection (or all).');
      await withDatabase(config, logger, (url) =>
        withServices(config, logger, url, async (services) => {
          for (const name of names) {
            if (name !== 'identity-links') {
              await rebuildCommand(services, name, process.stderr);
              continue;
            }
            const keys = services.get(KeyVault);
            const links = await services.get(IdentityDirectory).rebuild(services.get<EventStore>(EVENT_STORE), (customerIds) => keys.destroyedAmong(customerIds));
            process.stderr.write(`Rebuilt identity-links: ${links} links.\n`);
          }
        }),
      );
      return 0;
    }
    case 'export': {
      const customerId = positionals[1];
      if (!customerId) throw new Error('export needs a customer id.');
      await withDatabase(config, logger, (url) =>
        withServices(config, logger, url, async (services) => {
          // Streams the events, so a long history never sits in memory.
          process.stdout.write('{"events":[');
          let first = true;
          const exported = await services.get(PrivacyService).export(customerId, (event) => {
            process.stdout.write(`${first ? '' : ','}\n${JSON.stringify(event)}`);
            first = false;
          });
          process.stdout.write(`\n],${JSON.stringify(exported).slice(1)}\n`);
        }),
      );
      return 0;
    }
    case 'rewrap-keys': {
      const rewrapped = await withDatabase(config, logger, (url) => withServices(config, logger, url, (services) => services.get(KeyVault).rewrapAll()));
      process.stdout.write(`Re-wrapped ${rewrapped} data key(s) under the current master key.\n`);
      return 0;
    }
    default:
      process.stderr.write(command ? `Unknown command: ${command}\n\n${usage}` : usage);
      return command ? 2 : 0;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const expected = error instanceof InvalidConfiguration || error instanceof NotFound || error instanceof DataFolderInUse;
    process.stderr.write(`${expected ? (error as Error).message : String((error as Error).stack ?? error)}\n`);
    process.exit(error instanceof InvalidConfiguration ? 2 : 1);
  },
);
