import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedPostgres } from '../../src/modules/database/embedded-postgres.js';
import { migrate } from '../../src/modules/database/migrate.js';
import { silentLogger } from './database.js';

/**
 * A PostgreSQL cluster of its own, for a test that stops it or holds transactions open: the run's
 * shared cluster serves the other test files, and its readers stop below the oldest open
 * transaction of the whole cluster. Restarts keep the port and the data.
 */
export class DedicatedPostgres {
  private constructor(
    readonly folder: string,
    private server: EmbeddedPostgres | undefined,
    /** The `trailmap` database of the cluster, migrated. */
    readonly url: string,
    readonly port: number,
  ) {}

  static async start(): Promise<DedicatedPostgres> {
    const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'trailmap-faults-'));
    const server = await EmbeddedPostgres.start(folder, silentLogger);
    await migrate(server.url, silentLogger);
    return new DedicatedPostgres(folder, server, server.url, Number(new URL(server.url).port));
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** A fast shutdown, as an operator's restart does: open transactions roll back, clients are disconnected. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.stop();
  }

  /** Starts again on the same port with the same data. */
  async start(): Promise<void> {
    if (this.server) return;
    this.server = await EmbeddedPostgres.start(this.folder, silentLogger, { port: this.port });
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    await fs.rm(this.folder, { recursive: true, force: true });
  }
}
