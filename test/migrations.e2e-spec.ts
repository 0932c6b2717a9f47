import pg from 'pg';
import { migrate } from '../src/modules/database/migrate.js';
import { migrations } from '../src/modules/database/migrations/index.js';
import { createTestDatabase, silentLogger, type TestDatabase } from './support/database.js';
import { ServerProcess } from './support/process.js';

async function appliedMigrations(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ name: string }>('SELECT name FROM trailmap_migrations ORDER BY id')).rows.map((row) => row.name);
  } finally {
    await client.end();
  }
}

describe('schema migrations', () => {
  const databases: TestDatabase[] = [];
  const emptyDatabase = async () => {
    const database = await createTestDatabase({ migrated: false });
    databases.push(database);
    return database;
  };
  afterAll(async () => {
    await Promise.all(databases.map((database) => database.drop()));
  });

  it('are applied once when two instances migrate at the same moment', async () => {
    const { url } = await emptyDatabase();
    const results = await Promise.all([migrate(url, silentLogger), migrate(url, silentLogger), migrate(url, silentLogger)]);
    const everyName = migrations.map((migration) => new migration().name);
    expect(results.flat().sort()).toEqual([...everyName].sort());
    expect(await appliedMigrations(url)).toEqual(everyName);
  });

  it('are applied by the CLI command, which then has nothing left to do', async () => {
    const { url } = await emptyDatabase();
    const first = ServerProcess.start({ DATABASE_URL: url, LOG_LEVEL: 'silent' }, 'dist/cli.js', ['migrate']);
    expect(await first.exited).toBe(0);
    expect(first.output.join('\n')).toMatch(/^Applied \d+ migration\(s\): EventStore/);
    const second = ServerProcess.start({ DATABASE_URL: url, LOG_LEVEL: 'silent' }, 'dist/cli.js', ['migrate']);
    expect(await second.exited).toBe(0);
    expect(second.output).toEqual(['Nothing to migrate.']);
  });
});
