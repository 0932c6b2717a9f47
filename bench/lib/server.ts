import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { sleep } from './stats.js';
import { ROOT } from './trailmap.js';

export interface ServerOptions {
  databaseUrl: string;
  /** Scratch folder: the server's log, its data folder, CPU profiles. */
  folder: string;
  /** TRAILMAP_PROJECTIONS: off makes an API-only instance. */
  projections?: 'on' | 'off' | 'worker';
  /** Write a V8 CPU profile of the server (node --cpu-prof) into `folder` when it stops. */
  cpuProfile?: boolean;
  env?: Record<string, string>;
}

/** The server under test: `node dist/main.js` in its own process, so the load generator never shares its event loop. */
export class TrailmapServer {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private exited?: Promise<number | null>;

  private constructor(
    readonly process: ChildProcess,
    readonly url: string,
    readonly logFile: string,
    readonly profileFolder: string | undefined,
    /** Operator and everything else (TRAILMAP_API_KEYS `<key>:admin`). */
    readonly adminKey: string,
    /** The Segment write key: ingest role only. */
    readonly writeKey: string,
    readonly databaseUrl: string,
  ) {}

  get pid(): number {
    return this.process.pid!;
  }

  get graphqlUrl(): string {
    return `${this.url}/graphql`;
  }

  static async start(options: ServerOptions): Promise<TrailmapServer> {
    await fs.promises.mkdir(options.folder, { recursive: true });
    const port = await freePort();
    const logFile = path.join(options.folder, `server-${Date.now()}.log`);
    const log = fs.openSync(logFile, 'a');
    const profileFolder = options.cpuProfile ? path.join(options.folder, 'cpu-profiles') : undefined;
    const adminKey = `bench-admin-${randomBytes(12).toString('hex')}`;
    const writeKey = `bench-ingest-${randomBytes(12).toString('hex')}`;
    // BENCH_SERVER_NODE_ARGS: V8 and Node options for the server alone (e.g. --trace-gc, which NODE_OPTIONS refuses), for diagnosis.
    const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, ...(profileFolder ? ['--cpu-prof', `--cpu-prof-dir=${profileFolder}`] : []), 'dist/main.js'], {
      cwd: ROOT,
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
        DATABASE_URL: options.databaseUrl,
        TRAILMAP_DATA_DIR: path.join(options.folder, 'server-data'),
        TRAILMAP_API_KEYS: `${adminKey}:admin,${writeKey}:ingest`,
        TRAILMAP_MASTER_KEY: randomBytes(32).toString('base64'),
        TRAILMAP_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
        TRAILMAP_PROJECTIONS: options.projections ?? 'worker',
        ...options.env,
      },
    });
    fs.closeSync(log);
    const server = new TrailmapServer(child, `http://127.0.0.1:${port}`, logFile, profileFolder, adminKey, writeKey, options.databaseUrl);
    server.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} while starting; see ${logFile}:\n${tail(logFile)}`);
      const ready = await server.get('/health/ready').catch(() => undefined);
      if (ready?.status === 200) return server;
      if (Date.now() > deadline) throw new Error(`the server did not get ready within 60 s; see ${logFile}`);
      await sleep(100);
    }
  }

  /**
   * SIGTERM (graceful: drains, closes the pool; writes the CPU profiles), SIGKILL after 30 s. Returns the CPU
   * profiles, one per thread (`node --cpu-prof` names them CPU.<date>.<time>.<pid>.<thread>.<n>): thread 0 is
   * the request loop, the others the projections' thread (and its restarts).
   */
  async stop(): Promise<{ thread: number; file: string }[]> {
    this.agent.destroy();
    if (this.process.exitCode === null) {
      this.process.kill('SIGTERM');
      const timer = setTimeout(() => this.process.kill('SIGKILL'), 30_000);
      await this.exited;
      clearTimeout(timer);
    }
    if (!this.profileFolder) return [];
    // The folder is shared by the servers of one benchmark: this server's files carry its pid.
    const files = (await fs.promises.readdir(this.profileFolder).catch(() => [] as string[])).filter((file) => file.endsWith('.cpuprofile')).sort();
    return files.flatMap((file) => {
      const [, , , pid, thread] = file.split('.');
      return pid === String(this.process.pid) ? [{ thread: Number(thread), file: path.join(this.profileFolder!, file) }] : [];
    });
  }

  get(pathname: string): Promise<{ status: number; body: string }> {
    return request(this.agent, `${this.url}${pathname}`, 'GET', undefined, {});
  }

  post(pathname: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    return request(this.agent, `${this.url}${pathname}`, 'POST', body, { 'content-type': 'application/json', ...headers });
  }

  /** A GraphQL operation with the admin key; GraphQL errors throw. */
  async graphql<T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}, key = this.adminKey): Promise<T> {
    const response = await this.post('/graphql', JSON.stringify({ query, variables }), { authorization: `Bearer ${key}` });
    const parsed = JSON.parse(response.body) as { data?: T; errors?: { message: string }[] };
    if (parsed.errors?.length || response.status !== 200) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(parsed.errors ?? response.body).slice(0, 500)}`);
    return parsed.data!;
  }

  /** The server's projections, by name (without their lags, which are counts of the log). */
  async projectionNames(): Promise<string[]> {
    const data = await this.graphql<{ projections: { name: string }[] }>('{ projections { name } }');
    return data.projections.map((projection) => projection.name);
  }

  /**
   * Waits until every projection has applied the whole log (its checkpoint is the log's last event) and
   * no rebuild is under way; returns how long that took. Reads the checkpoints table directly: the
   * `projections` query's lags are counts of the log (up to a million rows each), which polled every
   * 250 ms would load PostgreSQL as much as the work being measured.
   */
  async projectionsCaughtUp(timeoutMs = 30 * 60_000, onProgress?: (checkpoints: CheckpointState[]) => void): Promise<number> {
    const started = performance.now();
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'bench-watch' });
    await client.connect();
    try {
      for (;;) {
        const checkpoints = await readCheckpoints(client);
        onProgress?.(checkpoints);
        const failed = checkpoints.find((checkpoint) => checkpoint.state === 'FAILED');
        if (failed) throw new Error(`projection ${failed.name} FAILED; see ${this.logFile}`);
        const head = checkpoints[0]?.head ?? null;
        if (checkpoints.length > 0 && checkpoints.every((checkpoint) => !checkpoint.rebuilding && checkpoint.position === head)) return (performance.now() - started) / 1000;
        if (performance.now() - started > timeoutMs) throw new Error(`projections did not catch up within ${timeoutMs / 1000} s: ${JSON.stringify(checkpoints)}`);
        await sleep(250);
      }
    } finally {
      await client.end();
    }
  }
}

/** A projection's checkpoint row, with the position of the log's last customer event beside it. */
export interface CheckpointState {
  name: string;
  state: string;
  position: string | null;
  rebuilding: boolean;
  rebuildProcessed: number;
  head: string | null;
}

export async function readCheckpoints(client: pg.ClientBase): Promise<CheckpointState[]> {
  const { rows } = await client.query<{ name: string; state: string; position: string | null; rebuilding: boolean; rebuild_processed: string | null; head: string | null }>(
    `SELECT c.name, c.state, c.position, (c.rebuilding OR c.rebuild_requested_at IS NOT NULL) AS rebuilding, c.rebuild_processed,
            (SELECT lpad(transaction_id::text, 20, '0') || '/' || lpad(global_position::text, 20, '0') FROM event_store_events
             WHERE starts_with(stream, 'customer-') ORDER BY transaction_id DESC, global_position DESC LIMIT 1) AS head
     FROM projection_checkpoints c ORDER BY c.name`,
  );
  return rows.map((row) => ({ name: row.name, state: row.state, position: row.position, rebuilding: row.rebuilding, rebuildProcessed: Number(row.rebuild_processed ?? 0), head: row.head }));
}

export function request(agent: http.Agent, url: string, method: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(url, { method, agent, headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}
