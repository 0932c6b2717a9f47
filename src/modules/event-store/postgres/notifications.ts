import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Database } from '../../database/database.js';

/**
 * A PostgreSQL channel's notifications, shared by every waiter of the process.
 * A generation counter makes waits race-free: a waiter that read up to generation `g` wakes
 * at once if a notification arrived since. A lost connection is re-established with backoff,
 * and counts as a notification, since some may have been missed meanwhile.
 */
export class Notifications {
  private generation = 0;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(payload: string) => void>();
  private readonly listener: SharedListener;
  private listened?: Promise<void>;
  private closed = false;

  constructor(
    database: Database,
    readonly channel: string,
  ) {
    this.listener = listenerOf(database);
  }

  /** The generation to pass to `wait` after reading; starts listening on first use. */
  current(): number {
    if (!this.listened && !this.closed) {
      this.listened = this.listener.add(this);
      this.listened.catch(() => undefined);
    }
    return this.generation;
  }

  /** Resolves once the LISTEN is in place (started if need be): what is notified from then on arrives. */
  async listening(): Promise<void> {
    this.current();
    await this.listened;
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
    if (this.closed) return;
    this.closed = true;
    this.wake();
    if (this.listened) await this.listener.remove(this);
  }

  /** A notification on the channel, or an empty payload once the connection is back (some may be lost). */
  wake(payload = ''): void {
    this.generation += 1;
    for (const waiter of [...this.waiters]) waiter();
    for (const listener of this.listeners) listener(payload);
  }
}

const listenersOf = new WeakMap<Database, SharedListener>();

function listenerOf(database: Database): SharedListener {
  let listener = listenersOf.get(database);
  if (!listener) {
    listener = new SharedListener(database);
    listenersOf.set(database, listener);
  }
  return listener;
}

/**
 * One LISTEN connection per pool for all the channels of the process. PostgreSQL wakes every
 * backend that listens in a database on every NOTIFY committed in it, whatever the channel: with a
 * connection per channel (six in a server and its projections thread), each appended event woke
 * six backends, ~0.45 ms of PostgreSQL's CPU a change in the fan-out benchmark.
 */
class SharedListener {
  private readonly channels = new Map<string, Set<Notifications>>();
  private connection?: Promise<pg.Client>;
  private client?: pg.Client;
  /** Counts the times the last channel was left (and the connection ended): a connection made before is not used. */
  private ended = 0;

  constructor(private readonly database: Database) {}

  /** Listens on `notifications`' channel too; resolves once that LISTEN is in place. */
  async add(notifications: Notifications): Promise<void> {
    const subscribers = this.channels.get(notifications.channel) ?? new Set();
    subscribers.add(notifications);
    this.channels.set(notifications.channel, subscribers);
    for (let attempt = 0; this.channels.has(notifications.channel); attempt++) {
      this.connection ??= this.connect(0, this.ended);
      try {
        const client = await this.connection;
        // Every channel in one statement (LISTEN is idempotent): what the connection listens to shows whole in pg_stat_activity.
        await client.query(listenAll(client, [...this.channels.keys()]));
        return;
      } catch {
        // The connection was lost meanwhile (its replacement listens on every channel), or the last channel left.
        await sleep(retryDelay(attempt));
      }
    }
  }

  async remove(notifications: Notifications): Promise<void> {
    const subscribers = this.channels.get(notifications.channel);
    if (!subscribers?.delete(notifications) || subscribers.size > 0) return;
    this.channels.delete(notifications.channel);
    const connection = this.connection;
    if (this.channels.size > 0) {
      await connection?.then((client) => client.query(`UNLISTEN ${client.escapeIdentifier(notifications.channel)}`)).catch(() => undefined);
      return;
    }
    this.ended += 1;
    this.connection = undefined;
    this.client = undefined;
    await connection?.then((client) => client.end()).catch(() => undefined);
  }

  private async connect(attempt: number, ended: number): Promise<pg.Client> {
    const current = () => ended === this.ended;
    try {
      const client = await this.database.connect('trailmap-listen');
      if (!current()) {
        await client.end();
        throw new Error('closed');
      }
      this.client = client;
      client.on('notification', (message) => this.channels.get(message.channel)?.forEach((notifications) => notifications.wake(message.payload ?? '')));
      client.on('error', () => this.reconnect(client));
      client.on('end', () => this.reconnect(client));
      await client.query(listenAll(client, [...this.channels.keys()]));
      if (attempt > 0) this.channels.forEach((subscribers) => subscribers.forEach((notifications) => notifications.wake()));
      return client;
    } catch {
      if (!current()) throw new Error('closed');
      await sleep(retryDelay(attempt));
      return this.connect(attempt + 1, ended);
    }
  }

  private reconnect(lost: pg.Client): void {
    if (lost !== this.client) return;
    this.client = undefined;
    lost.removeAllListeners();
    lost.on('error', () => undefined);
    this.connection = this.connect(1, this.ended);
    this.connection.catch(() => undefined);
  }
}

const retryDelay = (attempt: number) => Math.min(100 * 2 ** attempt, 5_000);

function listenAll(client: pg.Client, channels: string[]): string {
  return channels.map((channel) => `LISTEN ${client.escapeIdentifier(channel)}`).join('; ');
}
