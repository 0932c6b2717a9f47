import type pg from 'pg';
import type { CustomerEvent } from '../domain/customer-event.js';
import type { PersonalDataNeed } from './runner/customer-events.js';

/** What a projection's batch runs in: the transaction that also moves its checkpoint. */
export interface ProjectionTransaction {
  client: pg.ClientBase;
  /** The physical name of one of the projection's tables: the live one, or its rebuild twin. */
  table(name: string): string;
  /** False while rebuilding: a replay announces nothing to subscribers. */
  live: boolean;
  /**
   * A write of the batch: the runner sends them all, in order, once `apply` returns, together with
   * the checkpoint's move (one round trip), and waits for all of them before it commits. A write
   * that fails fails the batch.
   */
  write(text: string, values: unknown[]): void;
}

/**
 * A read model built from the log. `apply` folds a batch of events (in log order) into the
 * projection's tables; the runner calls it in the transaction that moves the checkpoint, so a
 * batch is applied exactly once whatever the crashes and redeliveries. It reads and folds first
 * and writes last (with `write`): from its first write the transaction holds back every reader of the log.
 */
export interface Projection {
  readonly name: string;
  /** The tables it owns (created by its migration); a rebuild fills twins of them, then swaps. */
  readonly tables: readonly string[];
  /**
   * Those of its tables that `apply` only inserts into (never reads, updates or relies on a conflict of):
   * a rebuild fills their twins without any index, and builds them at the end.
   */
  readonly appendOnlyTables?: readonly string[];
  /** Which events' personal data it needs opened: none, or (the profile) those whose sealed values it reads. */
  readonly personalData: PersonalDataNeed;
  /**
   * Live, the least time between two reads of the log (milliseconds): under load each batch carries
   * the appends of many requests, and a quiet log's event is still read at once. Short where
   * subscribers wait on the projection; longer where only queries read it, so that under load it
   * applies fewer, larger batches and leaves the CPU to the one that is waited on.
   */
  readonly liveGatherMs: number;
  apply(events: readonly CustomerEvent[], transaction: ProjectionTransaction): Promise<void>;
}

export const REBUILD_SUFFIX = '__rebuild';
