import type pg from 'pg';
import type { Database } from '../../database/database.js';

/**
 * One LISTEN connection for a PostgreSQL channel, shared by every waiter of the process.
 * A generation counter makes waits race-free: a waiter that read up to generation `g` wakes
 * at once if a notification arrived since. A lost connection is re-established with backoff,
 * and counts as a notification, since some may have been missed meanwhile.
 */
export class Notifications {
  private generation = 0;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(payload: string) => void>();
  private connection?: Promise<pg.Client>;
  private client?: pg.Client;
  private closed = false;

  constructor(
    private readonly database: Database,
    readonly channel: string,
  ) {}

  /** The generation to pass to `wait` after reading; starts listening on first use. */
  current(): number {
    if (!this.connection) {
      this.connection = this.connect(0);
      this.connection.catch(() => undefined);
    }
    return this.generation;
  }

  /** Resolves once the LISTEN is in place (started if need be): what is notified from then on arrives. */
  async listening(): Promise<void> {
    this.current();
    await this.connection;
  }

  /** Resolves when a notification newer than `seen` arrives, after `timeoutMs`, or on abort. */
  wait(seen: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.generation > seen || signal?.aborted || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  /** Calls `listener` with the payload of every notification; returns the unsubscribe function. */
  onNotification(listener: (payload: string) => void): () => void {
    this.current();
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    const connection = this.connection;
    this.connection = undefined;
    await connection?.then((client) => client.end()).catch(() => undefined);
  }

  private wake(payload = ''): void {
    this.generation += 1;
    for (const waiter of [...this.waiters]) waiter();
    for (const listener of this.listeners) listener(payload);
  }

  private async connect(attempt: number): Promise<pg.Client> {
    try {
      const client = await this.database.connect('trailmap-listen');
      if (this.closed) {
        await client.end();
        throw new Error('closed');
      }
      this.client = client;
      client.on('notification', (message) => this.wake(message.payload ?? ''));
      client.on('error', () => this.reconnect(client));
      client.on('end', () => this.reconnect(client));
      await client.query(`LISTEN ${client.escapeIdentifier(this.channel)}`);
      if (attempt > 0) this.wake();
      return client;
    } catch {
      if (this.closed) throw new Error('closed');
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 5_000)));
      return this.connect(attempt + 1);
    }
  }

  private reconnect(lost: pg.Client): void {
    if (this.closed || lost !== this.client) return;
    this.client = undefined;
    lost.removeAllListeners();
    lost.on('error', () => undefined);
    this.connection = this.connect(1);
    this.connection.catch(() => undefined);
  }
}
