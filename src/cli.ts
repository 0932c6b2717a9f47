import { parseArgs } from 'node:util';
import { configurationTable, InvalidConfiguration, loadConfig, type Config } from './config/config.js';
import { NotFound } from './domain/errors.js';
import { DataFolderInUse, EmbeddedPostgres } from './modules/database/embedded-postgres.js';
import { migrate } from './modules/database/migrate.js';
import { createLogger, type Logger } from './modules/logging/logger.js';
import { rebuildCommand } from './modules/operations/rebuild-command.js';

const usage = `Usage: npm run cli -- <command>

Commands:
  migrate          apply pending database migrations
  rebuild <name>   rebuild a projection by replay (customer-profile, journey-stage, analytics, timeline or all),
                   with a progress bar; the server keeps serving the old tables until the swap
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
      const names = positionals[1] === 'all' ? ['customer-profile', 'journey-stage', 'analytics', 'timeline'] : positionals.slice(1);
      if (names.length === 0) throw new Error('rebuild needs the name of a projection (or all).');
      await withDatabase(config, logger, async (url) => {
        for (const name of names) await rebuildCommand(config, logger, url, name, process.stderr);
      });
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
