import type pg from 'pg';
import { inTransaction, sentTogether, type Database } from '../../database/database.js';
import {
  ConcurrencyConflict,
  decodePosition,
  encodePosition,
  EventIdConflict,
  UUID_PATTERN,
  type AppendRequest,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  type SubscribeOptions,
} from '../event-store.port.js';
import { planAppends, type AppendPlan, type AppendUnit, type ExistingEvent, type PlannedAppend, type UnitOutcome } from './append-plan.js';
import { Notifications } from './notifications.js';

export const EVENT_STORE_CHANNEL = 'trailmap_event_store';

/** Advisory lock namespace of appends; streams share 1,024 locks, so a transaction never holds more (the lock table is small). */
export const STREAM_LOCK_SPACE = 7_220_146;
const STREAM_LOCKS = 'SELECT DISTINCT hashtext(stream) & 1023 AS lock FROM unnest($1::text[]) AS stream ORDER BY lock';

/**
 * A shared commit's transaction. Its statements' plans are made once per connection: with the values of each call,
 * PostgreSQL judged a plan for the read of the streams' heads and the ids (an array of one stream, one id) cheaper than
 * the generic one every time, and planned it anew on every commit, for longer than it ran (~210 against ~60 µs).
 */
const BEGIN_APPEND = 'BEGIN; SET LOCAL plan_cache_mode = force_generic_plan';
/** Commits in flight at once; appends arriving meanwhile wait and share the next commit. */
const CONCURRENT_COMMITS = 2;
/** Upper bound of events per shared commit, to keep transactions short. */
const GROUP_EVENT_LIMIT = 5_000;
const SUBSCRIPTION_PAGE = 1_000;
/** Full pages of the global order kept in memory (~0.5 MB each), for readers in lockstep. */
const FULL_PAGES_KEPT = 32;
const FULL_PAGE_KEPT_MS = 10_000;
/**
 * Recent subscription pages, shared by the subscribers of this process (the four projections follow
 * the same tail of the log): a page holds every committed event from its start to its end, so it
 * answers any subscriber whose position is in it, from there to the page's end.
 */
const LIVE_PAGES_KEPT = 8;
const LIVE_PAGE_KEPT_MS = 2_000;
/** Wake-up without a notification, in case one was missed: not a busy loop. */
const IDLE_RECHECK_MS = 1_000;
/**
 * Longest wait before looking again at committed events held back by an older open transaction
 * (the horizon is the oldest running transaction of the cluster: under load there nearly always is one).
 */
const HELD_BACK_MAX_WAIT_MS = 20;

interface PendingUnit {
  unit: AppendUnit;
  size: number;
  resolve(results: AppendResult[]): void;
  reject(error: unknown): void;
}

interface LiveRead {
  page: StoredEvent[];
  /** A full page: read on at once. */
  more: boolean;
  /** Committed events were held back by an older open transaction when the page was read: look again soon. */
  waiting: boolean;
}

interface LivePage extends LiveRead {
  after: string | undefined;
  streamPrefix: string | undefined;
  /** The notification generation seen before the read. */
  seen: number;
  at: number;
}

interface EventRow {
  transaction_id: string;
  global_position: string;
  stream: string;
  revision: string;
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: StoredEvent['metadata'];
  recorded_at: Date;
}

const EVENT_COLUMNS = 'transaction_id, global_position, stream, revision, id, type, data, metadata, recorded_at';

/**
 * The PostgreSQL event store. Appends that arrive together share one transaction (group
 * commit), each acknowledged only after that transaction commits; a unit whose expected
 * revision does not match fails alone.
 */
export class PostgresEventStore implements EventStore {
  private readonly queue: PendingUnit[] = [];
  private commitsInFlight = 0;
  private readonly notifications: Notifications;
  private readonly fullPages = new Map<string, { page: StoredEvent[]; at: number }>();
  private readonly pagesBeingRead = new Map<string, Promise<StoredEvent[]>>();
  private readonly livePages: LivePage[] = [];
  private readonly liveReads = new Map<string, { seen: number; read: Promise<LiveRead> }>();

  constructor(private readonly database: Database) {
    this.notifications = new Notifications(database, EVENT_STORE_CHANNEL);
  }

  async append(stream: string, events: NewEvent[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    const [result] = await this.appendMany([{ stream, events, expectedRevision: options.expectedRevision }]);
    return result!;
  }

  appendMany(appends: AppendRequest[]): Promise<AppendResult[]> {
    for (const append of appends) assertValidAppend(append);
    if (appends.every((append) => append.events.length === 0)) return this.currentResults(appends);
    return new Promise((resolve, reject) => {
      const size = appends.reduce((sum, append) => sum + append.events.length, 0);
      this.queue.push({ unit: appends, size, resolve, reject });
      this.commitNext();
    });
  }

  async *readStream(stream: string, options: ReadStreamOptions = {}): AsyncIterable<StoredEvent> {
    const forward = (options.direction ?? 'forward') === 'forward';
    const pageSize = options.pageSize ?? 500;
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    let from = options.from ?? (forward ? 0 : Number.MAX_SAFE_INTEGER);
    while (remaining > 0) {
      const { rows } = await this.database.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM event_store_events
         WHERE stream = $1 AND revision ${forward ? '>=' : '<='} $2
         ORDER BY revision ${forward ? 'ASC' : 'DESC'} LIMIT $3`,
        [stream, from, Math.min(pageSize, remaining)],
      );
      for (const row of rows) yield toStoredEvent(row);
      if (rows.length < Math.min(pageSize, remaining)) return;
      remaining -= rows.length;
      from = Number(rows.at(-1)!.revision) + (forward ? 1 : -1);
    }
  }

  async readEvents(refs: readonly { stream: string; revision: number }[]): Promise<StoredEvent[]> {
    if (refs.length === 0) return [];
    const { rows } = await this.database.query<EventRow & { wanted: string }>(
      `SELECT ${EVENT_COLUMNS}, wanted FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS ref(stream, revision, wanted)
       JOIN event_store_events USING (stream, revision)
       ORDER BY wanted`,
      [refs.map((ref) => ref.stream), refs.map((ref) => ref.revision)],
    );
    return rows.map(toStoredEvent);
  }

  /**
   * Full pages are final (everything below the horizon is committed for good), so the last few are
   * kept: projections reading the same stretch of the log, as in a rebuild, read and parse it once.
   */
  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    return (await this.readPage(options, false)).page;
  }

  /**
   * A page of the log (full ones kept, see readAll); with `askHorizon`, also whether committed events
   * wait beyond the read horizon, asked right after the read on its connection, in the same round trip.
   */
  private async readPage(options: ReadAllOptions, askHorizon: boolean): Promise<{ page: StoredEvent[]; beyondHorizon: boolean }> {
    const key = `${options.after ?? ''}|${options.limit ?? 1_000}|${options.streamPrefix ?? ''}`;
    const now = performance.now();
    // Readers in lockstep come by within moments; kept longer, pages only make every full GC slower.
    for (const [stale, { at }] of this.fullPages) if (now - at > FULL_PAGE_KEPT_MS) this.fullPages.delete(stale);
    const cached = this.fullPages.get(key);
    if (cached) return { page: cached.page, beyondHorizon: false };
    let page: StoredEvent[];
    let beyondHorizon = false;
    if (!askHorizon) {
      // Readers in lockstep often ask for the same page at once: one query answers them all.
      const reading = this.pagesBeingRead.get(key);
      if (reading) return { page: await reading, beyondHorizon: false };
      const read = this.database.query<EventRow>(...readAllQuery(options)).then(({ rows }) => rows.map(toStoredEvent));
      this.pagesBeingRead.set(key, read);
      try {
        page = await read;
      } finally {
        this.pagesBeingRead.delete(key);
      }
    } else {
      const client = await this.database.pool.connect();
      try {
        const [read, beyond] = await Promise.all(
          sentTogether(client, () => [client.query<EventRow>(...readAllQuery(options)), client.query(...beyondHorizonQuery(options.after))] as const),
        );
        page = read.rows.map(toStoredEvent);
        beyondHorizon = beyond.rows.length > 0;
      } finally {
        client.release();
      }
    }
    if (page.length === (options.limit ?? 1_000)) {
      this.fullPages.set(key, { page, at: now });
      if (this.fullPages.size > FULL_PAGES_KEPT) this.fullPages.delete(this.fullPages.keys().next().value!);
    }
    return { page, beyondHorizon };
  }

  async *subscribe(options: SubscribeOptions = {}): AsyncIterable<StoredEvent[]> {
    const { signal, streamPrefix } = options;
    let after = options.after;
    let failures = 0;
    let heldBack = 0;
    let lastRead = 0;
    let gathered: StoredEvent[] = [];
    while (!signal?.aborted) {
      const seen = this.notifications.current();
      let read: LiveRead;
      try {
        lastRead = performance.now();
        read = await this.readLive(after, streamPrefix, seen);
        failures = 0;
      } catch {
        if (signal?.aborted) return;
        if (gathered.length > 0) {
          yield gathered;
          gathered = [];
        }
        await sleep(Math.min(100 * 2 ** failures++, 5_000), signal);
        continue;
      }
      const { page, more, waiting } = read;
      if (page.length > 0) {
        gathered = gathered.length === 0 ? page : gathered.concat(page);
        after = page.at(-1)!.position;
      }
      // Other subscribers' pages answer in pieces, each read on at once: they are handed over together.
      if (more && gathered.length < SUBSCRIPTION_PAGE) continue;
      if (gathered.length > 0) {
        if (signal?.aborted) return;
        yield gathered;
        gathered = [];
      }
      if (more) continue;
      if (waiting) {
        // Backing off while one transaction stays open; each page read means the horizon moved, and starts over.
        if (page.length > 0) heldBack = 0;
        await sleep(Math.min(2 ** heldBack++, HELD_BACK_MAX_WAIT_MS), signal);
        continue;
      }
      heldBack = 0;
      await this.notifications.wait(seen, IDLE_RECHECK_MS, signal);
      const coalescing = lastRead + (options.coalesceMs ?? 0) - performance.now();
      if (coalescing > 0) await sleep(coalescing, signal);
    }
  }

  /**
   * The events after `after` for a subscriber that has seen notification `seen`: the rest of a page
   * another subscriber read, else a read of its own. A page read before that notification may miss
   * what it announced, so the subscriber reads on at once after it. Never an empty page from memory:
   * "nothing new" always comes from the database.
   */
  private async readLive(after: string | undefined, streamPrefix: string | undefined, seen: number): Promise<LiveRead> {
    const now = performance.now();
    while (this.livePages.length > 0 && now - this.livePages[0]!.at > LIVE_PAGE_KEPT_MS) this.livePages.shift();
    for (let index = this.livePages.length - 1; index >= 0; index--) {
      const shared = this.livePages[index]!;
      if (shared.streamPrefix !== streamPrefix) continue;
      const start = shared.after === after ? 0 : shared.page.findIndex((event) => event.position === after) + 1;
      if ((start > 0 || shared.after === after) && start < shared.page.length) {
        // Read before the latest notification this subscriber saw: good as far as it goes, then read on at once.
        if (shared.seen < seen) return { page: shared.page.slice(start), more: true, waiting: false };
        return { page: shared.page.slice(start), more: shared.more, waiting: shared.waiting };
      }
    }
    // Subscribers woken by the same notification at the same place share one read.
    const key = `${streamPrefix ?? ''}|${after ?? ''}`;
    const pending = this.liveReads.get(key);
    if (pending && pending.seen >= seen) return pending.read;
    const read = this.readLivePage(after, streamPrefix, seen, now);
    this.liveReads.set(key, { seen, read });
    try {
      return await read;
    } finally {
      if (this.liveReads.get(key)?.read === read) this.liveReads.delete(key);
    }
  }

  private async readLivePage(after: string | undefined, streamPrefix: string | undefined, seen: number, now: number): Promise<LiveRead> {
    const { page, beyondHorizon } = await this.readPage({ after, limit: SUBSCRIPTION_PAGE, streamPrefix }, true);
    const more = page.length === SUBSCRIPTION_PAGE;
    // Committed events beyond the horizon: an older transaction is still open; look again soon.
    const waiting = !more && beyondHorizon;
    // An empty page answers no one (nothing new comes from the database): kept, it would only push out pages that do.
    if (page.length > 0) {
      this.livePages.push({ after, streamPrefix, seen, page, more, waiting, at: now });
      if (this.livePages.length > LIVE_PAGES_KEPT) this.livePages.shift();
    }
    return { page, more, waiting };
  }

  async headPosition(): Promise<string | undefined> {
    const { rows } = await this.database.query<{ transaction_id: string; global_position: string }>(
      `SELECT transaction_id, global_position FROM event_store_events
       WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    );
    return rows[0] ? encodePosition(rows[0].transaction_id, rows[0].global_position) : undefined;
  }

  /** Counts every committed event, those still behind the read horizon too: they are lag all the same. */
  async countAfter(position: string | undefined, cap = 1_000_000): Promise<number> {
    const [transactionId, globalPosition] = position ? decodePosition(position) : [0n, 0n];
    const { rows } = await this.database.query<{ count: string }>(
      `SELECT count(*) FROM (
         SELECT 1 FROM event_store_events
         WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
         ORDER BY transaction_id, global_position
         LIMIT $3) AS after_position`,
      [transactionId.toString(), globalPosition.toString(), cap],
    );
    return Number(rows[0]!.count);
  }

  async close(): Promise<void> {
    await this.notifications.close();
  }

  private commitNext(): void {
    if (this.commitsInFlight >= CONCURRENT_COMMITS || this.queue.length === 0) return;
    const group: PendingUnit[] = [];
    let size = 0;
    while (this.queue.length > 0 && (group.length === 0 || size + this.queue[0]!.size <= GROUP_EVENT_LIMIT)) {
      const next = this.queue.shift()!;
      group.push(next);
      size += next.size;
    }
    this.commitsInFlight += 1;
    this.commitGroup(group)
      .catch((error: unknown) => group.forEach((pending) => pending.reject(error)))
      .finally(() => {
        this.commitsInFlight -= 1;
        this.commitNext();
      });
    this.commitNext();
  }

  private async commitGroup(group: PendingUnit[]): Promise<void> {
    const units = group.map((pending) => pending.unit);
    for (let attempt = 1; ; attempt += 1) {
      try {
        const outcomes =
          (attempt === 1 ? await writeGroupAtOnce(this.database, units) : undefined) ??
          (await this.database.transaction((client) => writeGroup(client, units), BEGIN_APPEND));
        group.forEach((pending, index) => settle(pending, outcomes[index]!));
        return;
      } catch (error) {
        // Another transaction stored one of these ids meanwhile: the re-read will see it.
        if (isUniqueViolation(error) && attempt < 3) continue;
        throw error;
      }
    }
  }

  /** Appends of no events change nothing; they still check the expected revision. */
  private async currentResults(appends: AppendRequest[]): Promise<AppendResult[]> {
    const { rows } = await this.database.query<{ stream: string; revision: string | null }>(
      `SELECT s.stream, (SELECT revision FROM event_store_events e WHERE e.stream = s.stream ORDER BY revision DESC LIMIT 1) AS revision
       FROM unnest($1::text[]) AS s(stream)`,
      [appends.map((append) => append.stream)],
    );
    const current = new Map(rows.flatMap((row) => (row.revision === null ? [] : [[row.stream, Number(row.revision)] as const])));
    const plan = planAppends([appends], current, new Map());
    const outcome = plan.outcomes[0]!;
    if (outcome.status !== 'ok') throw toError(outcome);
    const head = (await this.headPosition()) ?? encodePosition(0, 0);
    return outcome.appends.map((append) => ({ stream: append.stream, nextExpectedRevision: append.nextExpectedRevision, position: head, events: [] }));
  }
}

interface WrittenOutcome {
  outcome: UnitOutcome;
  positions: Map<string, string>;
}

/** Writes a group of units in the caller's transaction; exported for the late-commit contract test. */
export async function writeGroup(client: pg.PoolClient, units: AppendUnit[]): Promise<WrittenOutcome[]> {
  const streams = [...new Set(units.flatMap((unit) => unit.map((append) => append.stream)))];
  const ids = units.flatMap((unit) => unit.flatMap((append) => append.events.map((event) => event.id)));
  const locked = lockStreams(client, streams);
  // A new statement, so a new snapshot: it sees what the appends we waited for committed.
  const read = client.query<{ kind: 'head' | 'event'; id: string | null; stream: string; revision: string | null; transaction_id: string | null; global_position: string | null }>(
    `SELECT 'head' AS kind, NULL::uuid AS id, s.stream,
            (SELECT revision FROM event_store_events e WHERE e.stream = s.stream ORDER BY revision DESC LIMIT 1) AS revision,
            NULL::xid8 AS transaction_id, NULL::bigint AS global_position
     FROM unnest($1::text[]) AS s(stream)
     UNION ALL
     SELECT 'event', id, stream, revision, transaction_id, global_position FROM event_store_events WHERE id = ANY($2::uuid[])`,
    [streams, ids],
  );
  // Sent together (the pool pipelines), and run in that order: the read waits for the locks.
  const [, { rows: found }] = await Promise.all([locked, read]);
  const heads = new Map<string, number>();
  const existing = new Map<string, ExistingEvent>();
  const positions = new Map<string, string>();
  for (const row of found) {
    if (row.kind === 'head') {
      if (row.revision !== null) heads.set(row.stream, Number(row.revision));
      continue;
    }
    existing.set(row.id!, { id: row.id!, stream: row.stream, revision: Number(row.revision) });
    positions.set(row.id!, encodePosition(row.transaction_id!, row.global_position!));
  }
  const plan = planAppends(units, heads, existing);
  if (plan.inserts.length === 0) return plan.outcomes.map((outcome) => ({ outcome, positions }));

  // The plan's revisions are the heads read above plus the new events: the insert adds the same heads, unchanged under the locks.
  const afterHead = (stream: string) => (heads.get(stream) ?? -1) + 1;
  const inserted = await insertAfterHeads(client, plan.inserts.map((insert) => ({ ...insert, revision: insert.revision - afterHead(insert.stream) })));
  for (const row of inserted.rows) positions.set(row.id, encodePosition(row.transaction_id, row.global_position));
  return plan.outcomes.map((outcome) => ({ outcome, positions }));
}

/** Appends to a stream take turns on a transaction lock (memory only, nothing written), taken in one order: no deadlocks. */
function lockStreams(client: pg.ClientBase, streams: string[]): Promise<pg.QueryResult> {
  return client.query(`SELECT pg_advisory_xact_lock(${STREAM_LOCK_SPACE}, lock) FROM (${STREAM_LOCKS}) AS locks`, [streams]);
}

/**
 * Inserts new events in order, each numbered after its stream's head as this statement sees it (`revision`
 * counts from 0 among a stream's new events), and notifies the log's readers. Sent after the locks, it is a
 * new snapshot: each head is what the appends we waited for left.
 */
function insertAfterHeads(client: pg.ClientBase, inserts: AppendPlan['inserts']) {
  const rows = inserts.map(({ stream, revision, event }) => ({ s: stream, r: revision, i: event.id, t: event.type, d: event.data, m: event.metadata }));
  return client.query<{ id: string; stream: string; revision: string; transaction_id: string; global_position: string }>(
    `WITH input AS (
       SELECT * FROM ROWS FROM (json_to_recordset($1::json) AS (s text, r bigint, i uuid, t text, d json, m json)) WITH ORDINALITY AS input(s, r, i, t, d, m, n)),
     heads AS (
       SELECT s, coalesce((SELECT revision FROM event_store_events e WHERE e.stream = streams.s ORDER BY revision DESC LIMIT 1), -1) AS head
       FROM (SELECT DISTINCT s FROM input) AS streams),
     inserted AS (
       INSERT INTO event_store_events (stream, revision, id, type, data, metadata)
       SELECT input.s, heads.head + 1 + input.r, input.i, input.t, input.d, input.m
       FROM input JOIN heads USING (s)
       ORDER BY input.n
       RETURNING id, stream, revision, transaction_id, global_position),
     notified AS (SELECT pg_notify('${EVENT_STORE_CHANNEL}', ''))
     SELECT inserted.* FROM inserted, (SELECT count(*) FROM notified) AS notifications`,
    [JSON.stringify(rows)],
  );
}

/**
 * The common group, new events appended to streams whatever their revision (`any`), in one round trip:
 * the locks, an insert that numbers each stream's events after its head, and the COMMIT, sent together.
 * Undefined when the group needs `writeGroup`'s read first: an expected revision to check, an append of
 * no events, an id twice in the group, or an id already stored (the insert then fails on the id's
 * uniqueness, and the transaction is rolled back).
 */
async function writeGroupAtOnce(database: Database, units: AppendUnit[]): Promise<WrittenOutcome[] | undefined> {
  const appends = units.flat();
  if (appends.some((append) => append.expectedRevision !== 'any' || append.events.length === 0)) return undefined;
  // Planned from empty streams: revisions relative to each stream's head, which the insert adds.
  const plan = planAppends(units, new Map(), new Map());
  const events = appends.reduce((sum, append) => sum + append.events.length, 0);
  if (plan.inserts.length !== events || plan.outcomes.some((outcome) => outcome.status !== 'ok')) return undefined;

  const streams = [...new Set(appends.map((append) => append.stream))];
  const client = await database.pool.connect();
  let inserted: Awaited<ReturnType<typeof insertAfterHeads>>;
  try {
    inserted = await inTransaction(
      client,
      async (commitWith) => {
        const [, result] = await commitWith(() => [lockStreams(client, streams), insertAfterHeads(client, plan.inserts)]);
        return result as typeof inserted;
      },
      BEGIN_APPEND,
    );
  } catch (error) {
    if (isUniqueViolation(error)) return undefined;
    throw error;
  } finally {
    client.release();
  }

  // Each stream's head before the group: what the insert added to the planned revisions.
  const offsets = new Map<string, number>();
  const positions = new Map<string, string>();
  const relative = new Map(plan.inserts.map(({ event, revision }) => [event.id, revision]));
  for (const row of inserted.rows) {
    offsets.set(row.stream, Number(row.revision) - relative.get(row.id)!);
    positions.set(row.id, encodePosition(row.transaction_id, row.global_position));
  }
  const moved = ({ stream, nextExpectedRevision, events: planned }: PlannedAppend): PlannedAppend => ({
    stream,
    nextExpectedRevision: nextExpectedRevision + offsets.get(stream)!,
    events: planned.map((event) => ({ ...event, revision: event.revision + offsets.get(stream)! })),
  });
  return plan.outcomes.map((outcome) => ({ outcome: outcome.status === 'ok' ? { status: 'ok', appends: outcome.appends.map(moved) } : outcome, positions }));
}

function settle(pending: PendingUnit, { outcome, positions }: WrittenOutcome): void {
  if (outcome.status !== 'ok') {
    pending.reject(toError(outcome));
    return;
  }
  pending.resolve(
    outcome.appends.map((append) => {
      const events = append.events.map(({ event, revision, duplicate }) => ({
        id: event.id,
        revision,
        duplicate,
        position: positions.get(event.id)!,
      }));
      const position = events.at(-1)?.position ?? [...positions.values()].sort().at(-1)!;
      return { stream: append.stream, nextExpectedRevision: append.nextExpectedRevision, position, events };
    }),
  );
}

function toError(outcome: Exclude<UnitOutcome, { status: 'ok' }>): Error {
  return outcome.status === 'conflict'
    ? new ConcurrencyConflict(outcome.stream, outcome.expected, outcome.actual)
    : new EventIdConflict(outcome.eventId, outcome.stream, outcome.existingStream);
}

/** The first committed event after `after` beyond the read horizon, if any: an older transaction is still open. */
function beyondHorizonQuery(after: string | undefined): [string, unknown[]] {
  const [transactionId, globalPosition] = after ? decodePosition(after) : [0n, 0n];
  // The first one in index order, not EXISTS: PostgreSQL plans an EXISTS as a scan that stops at the first match, and reads the whole table when there is none.
  return [
    `SELECT 1 FROM event_store_events
     WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
       AND (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
     ORDER BY transaction_id, global_position
     LIMIT 1`,
    [transactionId.toString(), globalPosition.toString()],
  ];
}

function readAllQuery({ after, limit = 1_000, streamPrefix }: ReadAllOptions): [string, unknown[]] {
  const [transactionId, globalPosition] = after ? decodePosition(after) : [0n, 0n];
  const values: unknown[] = [transactionId.toString(), globalPosition.toString(), limit];
  const prefix = streamPrefix ? `AND starts_with(stream, $${values.push(streamPrefix)})` : '';
  return [
    `SELECT ${EVENT_COLUMNS} FROM event_store_events
     WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
       AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       ${prefix}
     ORDER BY transaction_id, global_position
     LIMIT $3`,
    values,
  ];
}

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    id: row.id,
    type: row.type,
    stream: row.stream,
    revision: Number(row.revision),
    position: encodePosition(row.transaction_id, row.global_position),
    data: row.data,
    metadata: { ...row.metadata, recordedAt: row.recorded_at.toISOString() },
  };
}

function assertValidAppend({ stream, events, expectedRevision }: AppendRequest): void {
  if (typeof stream !== 'string' || stream.length === 0) throw new TypeError('An append needs a stream name.');
  if (typeof expectedRevision === 'number' && (!Number.isInteger(expectedRevision) || expectedRevision < 0)) {
    throw new TypeError(`Expected revision must be an integer ≥ 0, 'no_stream', 'exists' or 'any'; got ${expectedRevision}.`);
  }
  for (const event of events) {
    if (!UUID_PATTERN.test(event.id)) throw new TypeError(`Event id must be a UUID; got ${JSON.stringify(event.id)}.`);
    if (!event.type) throw new TypeError(`Event ${event.id} needs a type.`);
  }
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === '23505';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
