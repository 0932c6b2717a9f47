import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedPostgres } from '../src/modules/database/embedded-postgres.js';
import { ServerProcess, temporaryFolder } from './support/process.js';

async function query(folder: string, sql: string) {
  const url = await EmbeddedPostgres.runningUrl(folder);
  if (!url) throw new Error('no running embedded PostgreSQL');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

async function answersGraphql(url: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  return response.json();
}

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function postmasterPid(folder: string): Promise<number | undefined> {
  try {
    return Number((await fs.readFile(path.join(folder, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } catch {
    return undefined;
  }
}

describe('the embedded PostgreSQL default', () => {
  const servers: ServerProcess[] = [];
  const folders: string[] = [];
  const temporaryDataFolder = async () => {
    const folder = await temporaryFolder();
    folders.push(folder);
    return folder;
  };
  const start = (folder: string) => {
    const server = ServerProcess.start({ TRAILMAP_DATA_DIR: folder });
    servers.push(server);
    return server;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop('SIGTERM')));
    await Promise.all(folders.splice(0).map((folder) => fs.rm(folder, { recursive: true, force: true })));
  });

  it('starts with nothing configured, keeps data across a restart and stops its PostgreSQL on SIGTERM', async () => {
    const folder = await temporaryDataFolder();
    const first = start(folder);
    expect(await answersGraphql(await first.ready())).toEqual({ data: { __typename: 'Query' } });
    // Sized for a write-heavy log (fewer checkpoints, a larger cache), durability untouched.
    const settings = await query(
      folder,
      `SELECT name, setting, unit FROM pg_settings WHERE name IN ('max_wal_size', 'checkpoint_timeout', 'shared_buffers', 'fsync', 'synchronous_commit') ORDER BY name`,
    );
    expect(settings).toEqual([
      { name: 'checkpoint_timeout', setting: '900', unit: 's' },
      { name: 'fsync', setting: 'on', unit: null },
      { name: 'max_wal_size', setting: '4096', unit: 'MB' },
      { name: 'shared_buffers', setting: String((Math.max(128, Math.min(1024, Math.floor(os.totalmem() / 4 / 2 ** 20))) * 1024) / 8), unit: '8kB' },
      { name: 'synchronous_commit', setting: 'on', unit: null },
    ]);
    await query(folder, 'CREATE TABLE survivor (note text); INSERT INTO survivor VALUES ($$kept$$)');
    const postgres = await postmasterPid(folder);
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(isAlive(postgres!)).toBe(false);
    expect(await postmasterPid(folder)).toBeUndefined();

    const second = start(folder);
    await second.ready();
    expect(await query(folder, 'SELECT note FROM survivor')).toEqual([{ note: 'kept' }]);
  });

  it('recovers after a kill -9 that left PostgreSQL running', async () => {
    const folder = await temporaryDataFolder();
    const crashed = start(folder);
    await crashed.ready();
    await query(folder, 'CREATE TABLE survivor (note text); INSERT INTO survivor VALUES ($$committed before the crash$$)');
    const orphan = await postmasterPid(folder);
    await crashed.stop('SIGKILL');
    expect(isAlive(orphan!)).toBe(true);

    const restarted = start(folder);
    expect(await answersGraphql(await restarted.ready())).toEqual({ data: { __typename: 'Query' } });
    expect(isAlive(orphan!)).toBe(false);
    expect(await query(folder, 'SELECT note FROM survivor')).toEqual([{ note: 'committed before the crash' }]);
  });

  it('recovers from a stale postmaster.pid whose pid now belongs to another process', async () => {
    const folder = await temporaryDataFolder();
    const first = start(folder);
    await first.ready();
    const pidFile = path.join(folder, 'postgres', 'postmaster.pid');
    const contents = await fs.readFile(pidFile, 'utf8');
    expect(await first.stop('SIGTERM')).toBe(0);
    const stranger = spawn('sleep', ['60']);
    try {
      await fs.writeFile(pidFile, contents.replace(/^\d+/, String(stranger.pid)));
      const second = start(folder);
      await second.ready();
    } finally {
      stranger.kill();
    }
  });

  it('refuses a second server on the same data folder with a clear message', async () => {
    const folder = await temporaryDataFolder();
    const owner = start(folder);
    const graphqlUrl = await owner.ready();
    const intruder = start(folder);
    expect(await intruder.exited).toBe(1);
    expect(intruder.output.join('\n')).toContain(
      `The data folder ${folder} is in use by another Trailmap process (pid ${owner.child.pid}).`,
    );
    expect(await answersGraphql(graphqlUrl)).toEqual({ data: { __typename: 'Query' } });
  });

  it('stops at start-up on an invalid variable with one line naming it', async () => {
    const server = ServerProcess.start({ PORT: 'eighty', TRAILMAP_DATA_DIR: await temporaryDataFolder() });
    servers.push(server);
    expect(await server.exited).toBe(2);
    expect(server.output).toEqual(['Invalid configuration: PORT="eighty" is not valid; it accepts an integer from 0 to 65535.']);
  });
});

describe('production settings', () => {
  it('refuse to start without API keys and master keys, saying which variable is missing', async () => {
    const server = ServerProcess.start({ NODE_ENV: 'production', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(await server.exited).toBe(1);
    expect(server.output.join('\n')).toContain('TRAILMAP_MASTER_KEY must be set in production (NODE_ENV=production)');
  });
});
