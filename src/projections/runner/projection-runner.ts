import type pg from 'pg';
import type { EventCatalog } from '../../domain/catalog/index.js';
import { CUSTOMER_STREAM_PREFIX } from '../../domain/identity/identity.js';
import { describeError } from '../../modules/core/error-codes.js';
import { inTransaction, sentTogether, type CommitWith, type Database } from '../../modules/database/database.js';
import type { EventStore, StoredEvent } from '../../modules/event-store/event-store.port.js';
import type { Logger } from '../../modules/logging/logger.js';
import type { KeyVault } from '../../modules/privacy/key-vault.js';
import { REBUILD_SUFFIX, type Projection } from '../projection.js';
import { toCustomerEvents } from './customer-events.js';
import { convoyOf } from './rebuild-convoy.js';
import { createTwin, indexTwin, swapTwin } from './rebuild-twins.js';

export interface RunnerDependencies {
  database: Database;
  store: EventStore;
  catalog: EventCatalog;
  keys: KeyVault;
  logger: Logger;
  /**
   * Calls back with the projection's name whenever an operator asks something of it (rebuild); with an
   * empty one when the listening connection was made again (a request may have been missed meanwhile).
   */
  onControl(listener: (name: string) => void): () => void;
  batchSize?: number;
  /** How often a standby instance tries to take the projection over. */
  takeoverIntervalMs?: number;
}

/** Which checkpoint and tables a batch moves: the live ones, or the rebuild's twins. */
interface Target {
  position: 'position' | 'rebuild_position';
  processed: 'processed' | 'rebuild_processed';
  suffix: '' | typeof REBUILD_SUFFIX;
  live: boolean;
}

const LIVE: Target = { position: 'position', processed: 'processed', suffix: '', live: true };
const REBUILD: Target = { position: 'rebuild_position', processed: 'rebuild_processed', suffix: REBUILD_SUFFIX, live: false };

interface CheckpointRow {
  position: string | null;
  state: string;
  rebuild_requested_at: Date | null;
  rebuilding: boolean;
  rebuild_position: string | null;
}

/**
 * A batch's transaction does not wait for its commit to reach the disk: a crash can lose only the
 * last batches of read models, with their checkpoint, and they are applied again from the log.
 * The events themselves are committed durably by the event store before anyone is told of them.
 */
const BEGIN_BATCH = 'BEGIN; SET LOCAL synchronous_commit = off';

const DIVISION_BY_ZERO = '22012';

/**
 * Makes the checkpoints of projections run for the first time; the instances that run projections
 * make them as they start, before they take any event. A projection new to a log that already holds
 * customer events (added to a running deployment, a first start on an imported or restored log, or on
 * a log an API-only instance took alone) is built as a rebuild: twin tables without their secondary
 * indexes, indexed once, then swapped in, where applying the whole log event by event to the live
 * tables would update every index row by row, and announce years of old stage changes to live
 * subscribers. Events recorded once the checkpoint exists are applied live, their changes announced.
 */
export async function claimCheckpoints({ queryable, store, logger }: { queryable: Pick<Database, 'query'>; store: EventStore; logger: Logger }, names: readonly string[]): Promise<void> {
  const { rows } = await queryable.query<{ name: string }>('SELECT name FROM projection_checkpoints WHERE name = ANY($1::text[])', [names]);
  const made = new Set(rows.map((row) => row.name));
  const first = names.filter((name) => !made.has(name));
  if (first.length === 0) return;
  const logged = (await store.readAll({ limit: 1, streamPrefix: CUSTOMER_STREAM_PREFIX })).length > 0;
  const { rows: claimed } = await queryable.query<{ name: string }>(
    `INSERT INTO projection_checkpoints (name, rebuild_requested_at) SELECT name, CASE WHEN $2 THEN now() END FROM unnest($1::text[]) AS name
     ON CONFLICT (name) DO NOTHING RETURNING name`,
    [first, logged],
  );
  for (const { name } of claimed) if (logged) logger.info({ projection: name }, 'new projection on a log that holds events: built by a rebuild');
}

/** The checkpoint moved under us: another runner applied this batch. */
class CheckpointMoved extends Error {}
/** A handler threw on an event: the projection stops in FAILED until it is rebuilt. */
class ProjectionFailed extends Error {}

/**
 * Keeps one projection current: one active runner per projection across all instances (a
 * session advisory lock; a standby takes over when the holder's connection dies), reading the
 * global order from its checkpoint and writing each batch with the new checkpoint in one
 * transaction (compare-and-set on the old one). A rebuild fills twin tables from the start of the
 * log while the live tables keep serving, then swaps them in one transaction.
 */
export class ProjectionRunner {
  private readonly stopping = new AbortController();
  private running?: Promise<void>;
  private readonly batchSize: number;
  private readonly recent: { at: number; count: number }[] = [];

  constructor(
    readonly projection: Projection,
    private readonly dependencies: RunnerDependencies,
  ) {
    this.batchSize = dependencies.batchSize ?? 1_000;
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private get name() {
    return this.projection.name;
  }

  private async run(): Promise<void> {
    const { database, logger } = this.dependencies;
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      let client: pg.Client | undefined;
      try {
        client = await database.connect(`trailmap-projection-${this.name}`);
        client.on('error', () => undefined); // a lost connection surfaces as a failed query
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 7220145)) AS locked', [
          this.name,
        ]);
        if (rows[0]!.locked) {
          logger.info({ projection: this.name }, 'projection runner is active on this instance');
          await this.lead(client);
        }
        failures = 0;
      } catch (error) {
        if (!this.stopping.signal.aborted) {
          failures += 1;
          logger.warn({ projection: this.name, err: error }, 'projection runner lost its connection; retrying');
        }
      } finally {
        await client?.end().catch(() => undefined);
      }
      await sleep(failures > 0 ? Math.min(200 * 2 ** failures, 5_000) : (this.dependencies.takeoverIntervalMs ?? 2_000), this.stopping.signal);
    }
  }

  /** Runs while this instance holds the projection's lock on `client`. */
  private async lead(client: pg.Client): Promise<void> {
    await this.claim(client);
    while (!this.stopping.signal.aborted) {
      const control = new AbortController();
      const abort = () => control.abort();
      this.stopping.signal.addEventListener('abort', abort, { once: true });
      // An empty notice: the listening connection was lost and made again, and a request may have been missed meanwhile.
      const unsubscribe = this.dependencies.onControl((name) => (name === this.name || name === '') && abort());
      try {
        const checkpoint = await this.checkpoint(client);
        const failed = checkpoint.state === 'FAILED';
        // A failed projection waits for an operator's rebuild, even one that was under way when it failed.
        const rebuilding = checkpoint.rebuild_requested_at !== null || (checkpoint.rebuilding && !failed);
        if (rebuilding) {
          // A projection that has applied nothing yet has nothing live to keep current: the rebuild alone builds it.
          const following =
            failed || checkpoint.position === null ? Promise.resolve() : this.follow(client, checkpoint.position, control.signal).catch(() => undefined);
          const ready = await this.rebuild(checkpoint, control.signal);
          control.abort();
          await following;
          if (ready && !this.stopping.signal.aborted) await this.swap(client);
        } else if (failed) {
          await new Promise((resolve) => control.signal.addEventListener('abort', resolve, { once: true }));
        } else {
          await this.follow(client, checkpoint.position, control.signal);
        }
      } catch (error) {
        if (!(error instanceof ProjectionFailed)) throw error;
      } finally {
        unsubscribe();
        this.stopping.signal.removeEventListener('abort', abort);
      }
    }
  }

  /** The projection's checkpoint, made on its first run if its instance did not make it as it started (`claimCheckpoints`). */
  private async claim(client: pg.Client): Promise<void> {
    const { store, logger } = this.dependencies;
    await claimCheckpoints({ queryable: client, store, logger }, [this.name]);
  }

  /** Applies the live log to the live tables until `signal` aborts. */
  private async follow(client: pg.Client, after: string | null, signal: AbortSignal): Promise<void> {
    const pages = this.dependencies.store.subscribe({ after: after ?? undefined, streamPrefix: CUSTOMER_STREAM_PREFIX, signal, coalesceMs: this.projection.liveGatherMs });
    let position = after;
    for await (const page of pages) {
      for (let start = 0; start < page.length; start += this.batchSize) {
        if (signal.aborted) return;
        const batch = page.slice(start, start + this.batchSize);
        // A full batch may be the end of the log too: without asking, the state would stay CATCHING_UP at lag 0.
        const caughtUp = batch.length < this.batchSize || (await this.dependencies.store.countAfter(batch.at(-1)!.position, 1)) === 0;
        await this.commit(client, batch, position, LIVE, caughtUp ? 'LIVE' : 'CATCHING_UP');
        position = batch.at(-1)!.position;
      }
    }
  }

  /** Fills the twin tables from the start of the log; true once they have caught up with it. */
  private async rebuild(checkpoint: CheckpointRow, signal: AbortSignal): Promise<boolean> {
    const { database, store } = this.dependencies;
    let position = checkpoint.rebuild_position;
    if (checkpoint.rebuild_requested_at !== null) {
      await database.transaction(async (client) => {
        for (const table of this.projection.tables) {
          await createTwin(client, table, { appendOnly: this.projection.appendOnlyTables?.includes(table) ?? false });
        }
        await client.query(
          `UPDATE projection_checkpoints
           SET rebuilding = true, rebuild_requested_at = NULL, rebuild_position = NULL, rebuild_processed = 0, updated_at = now()
           WHERE name = $1`,
          [this.name],
        );
      });
      position = null;
    }
    const convoy = convoyOf(store);
    let pages = 0;
    try {
      while (!signal.aborted) {
        await convoy.keepTogether(this.name, pages, signal);
        const batch = await store.readAll({ after: position ?? undefined, limit: this.batchSize, streamPrefix: CUSTOMER_STREAM_PREFIX });
        pages += 1;
        if (batch.length > 0) {
          const client = await database.pool.connect();
          try {
            await this.commit(client, batch, position, REBUILD, 'REBUILDING');
          } finally {
            client.release();
          }
          position = batch.at(-1)!.position;
        }
        if (batch.length < this.batchSize) {
          for (const table of this.projection.tables) await indexTwin(database, table);
          return true;
        }
      }
      return false;
    } finally {
      convoy.leave(this.name);
    }
  }

  /** Last catch-up of the twins and the swap, in one transaction: readers see old tables or new, never neither. */
  private async swap(client: pg.Client): Promise<void> {
    const { store, logger } = this.dependencies;
    await inTransaction(client, async () => {
      let position = (await this.checkpoint(client)).rebuild_position;
      for (;;) {
        const batch = await store.readAll({ after: position ?? undefined, limit: this.batchSize, streamPrefix: CUSTOMER_STREAM_PREFIX });
        if (batch.length === 0) break;
        await this.applyBatch(client, batch, position, REBUILD, 'REBUILDING');
        position = batch.at(-1)!.position;
      }
      for (const table of this.projection.tables) await swapTwin(client, table);
      await client.query(
        `UPDATE projection_checkpoints
         SET position = rebuild_position, processed = rebuild_processed, rebuilding = false, rebuild_position = NULL,
             rebuild_processed = NULL, state = 'LIVE', last_error = NULL, last_error_event = NULL, updated_at = now()
         WHERE name = $1`,
        [this.name],
      );
    });
    logger.info({ projection: this.name }, 'rebuild swapped in');
  }

  /** One batch in its own transaction; a handler error is narrowed down to its event and recorded. */
  private async commit(client: pg.ClientBase, batch: StoredEvent[], after: string | null, target: Target, state: string): Promise<void> {
    try {
      await inTransaction(client, (commitWith) => this.applyBatch(client, batch, after, target, state, commitWith), BEGIN_BATCH);
    } catch (error) {
      if (error instanceof CheckpointMoved || describeError(error).code === 'UNAVAILABLE') throw error;
      if (batch.length === 1) return this.fail(client, batch[0]!, error);
      // Which event? One at a time: those before the culprit are kept, the culprit is recorded.
      let position = after;
      for (const event of batch) {
        await this.commit(client, [event], position, target, state);
        position = event.position;
      }
    }
  }

  /**
   * The projection's writes, then the checkpoint's compare-and-set, last, sent together, and with the
   * COMMIT when `commitWith` is given (a batch of its own: one round trip from the first write to the
   * commit). A transaction gets its xid at its first write, and every reader of the log waits for the
   * oldest xid still running (the read horizon), so the loads and folds before the first write hold no
   * reader back.
   */
  private async applyBatch(client: pg.ClientBase, batch: StoredEvent[], after: string | null, target: Target, state: string, commitWith?: CommitWith): Promise<void> {
    const { catalog, keys } = this.dependencies;
    const last = batch.at(-1)!.position;
    const events = await toCustomerEvents(batch, catalog, keys, { openPersonalData: this.projection.personalData, sharedBy: target.live ? 'event' : 'page' });
    const writes: [text: string, values: unknown[]][] = [];
    await this.projection.apply(events, { client, table: (name) => `${name}${target.suffix}`, live: target.live, write: (text, values) => void writes.push([text, values]) });
    const send = () => [
      ...writes.map(([text, values]) => client.query(text, values)),
      // A checkpoint that moved must abort the transaction, whose COMMIT may be on its way already: the statement
      // fails then (one divided by the rows it moved, none), and PostgreSQL rolls the batch back at the COMMIT.
      client
        .query(
          `WITH moved AS (
             UPDATE projection_checkpoints
             SET ${target.position} = $3, ${target.processed} = ${target.processed} + $4, state = CASE WHEN rebuilding THEN 'REBUILDING' ELSE $5 END,
                 events_per_second = $6, updated_at = now()
             WHERE name = $1 AND ${target.position} IS NOT DISTINCT FROM $2
             RETURNING 1)
           SELECT 1 / count(*) AS moved FROM moved`,
          [this.name, after, last, batch.length, state, this.rate(batch.length)],
        )
        .catch((error: unknown) => {
          throw (error as { code?: string }).code === DIVISION_BY_ZERO ? new CheckpointMoved(`the checkpoint of ${this.name} moved`) : error;
        }),
    ];
    await (commitWith ? commitWith(send) : Promise.all(sentTogether(client, send)));
  }

  private async fail(client: pg.ClientBase, event: StoredEvent, error: unknown): Promise<never> {
    const message = error instanceof Error ? error.message : String(error);
    this.dependencies.logger.error({ projection: this.name, eventId: event.id, err: error }, 'projection failed on an event');
    await client.query(
      `UPDATE projection_checkpoints SET state = 'FAILED', last_error = $2, last_error_event = $3, updated_at = now() WHERE name = $1`,
      [this.name, `${event.type} ${event.id}: ${message}`, event.id],
    );
    throw new ProjectionFailed(message);
  }

  private async checkpoint(client: pg.ClientBase): Promise<CheckpointRow> {
    const { rows } = await client.query<CheckpointRow>(
      'SELECT position, state, rebuild_requested_at, rebuilding, rebuild_position FROM projection_checkpoints WHERE name = $1',
      [this.name],
    );
    return rows[0]!;
  }

  /** Events per second over the last ten seconds. */
  private rate(count: number): number {
    const now = Date.now();
    this.recent.push({ at: now, count });
    while (this.recent.length > 0 && this.recent[0]!.at < now - 10_000) this.recent.shift();
    const span = Math.max(1_000, now - this.recent[0]!.at);
    return Math.round((this.recent.reduce((sum, entry) => sum + entry.count, 0) / span) * 1_000);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
