import type pg from 'pg';
import { REBUILD_SUFFIX } from '../projection.js';

/**
 * The twin tables a rebuild fills. A twin starts with its primary key only (none at all for a table
 * its projection only appends to): every other index would be updated row by row at random places
 * for the whole replay, where building it once from the filled table is a sort. The missing indexes
 * are built from the live table's definitions when the twin has caught up, before the swap, which
 * gives them the live names back. They are built `CONCURRENTLY`: a plain build holds a transaction id
 * for its whole length, and readers of the log stop at the oldest one still running, so the live
 * projections and subscriptions would stall until it ended (seconds at a million events).
 */

/** A new, empty twin of `table`, without its secondary indexes (and without its primary key when `appendOnly`). */
export async function createTwin(client: pg.ClientBase, table: string, { appendOnly }: { appendOnly: boolean }): Promise<void> {
  const twin = `${table}${REBUILD_SUFFIX}`;
  await client.query(`DROP TABLE IF EXISTS ${twin}`);
  await client.query(`CREATE TABLE ${twin} (LIKE ${table} INCLUDING ALL EXCLUDING INDEXES)`);
  if (appendOnly) return;
  const live = await indexesOf(client, table);
  const primary = live.findIndex((index) => index.primary);
  if (primary >= 0) await client.query(`ALTER TABLE ${twin} ADD PRIMARY KEY USING INDEX ${await createIndex(client, twin, live[primary]!, twinIndexName(twin, primary), { concurrently: false })}`);
}

/**
 * Builds the live table's indexes that the twin lacks, each in a statement of its own (outside any
 * transaction, as `CONCURRENTLY` requires). A build that failed left an invalid index: it is dropped
 * and built again; a rebuild that resumes finds the others built already.
 */
export async function indexTwin(client: Queryable, table: string): Promise<void> {
  const twin = `${table}${REBUILD_SUFFIX}`;
  const built: TableIndex[] = [];
  for (const index of await indexesOf(client, twin)) {
    if (index.valid) built.push(index);
    else await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index.name}`);
  }
  const live = await indexesOf(client, table);
  for (const [at, index] of live.entries()) {
    if (built.some((existing) => sameIndex(existing, index))) continue;
    const name = await createIndex(client, twin, index, twinIndexName(twin, at), { concurrently: true });
    if (index.primary) await client.query(`ALTER TABLE ${twin} ADD PRIMARY KEY USING INDEX ${name}`);
  }
}

/** Replaces the live table by its twin, in the caller's transaction; the twin's indexes take the live ones' names. */
export async function swapTwin(client: pg.ClientBase, table: string): Promise<void> {
  const twin = `${table}${REBUILD_SUFFIX}`;
  const live = await indexesOf(client, table);
  const built = await indexesOf(client, twin);
  await client.query(`DROP TABLE ${table}`);
  await client.query(`ALTER TABLE ${twin} RENAME TO ${table}`);
  for (const index of built) {
    const counterpart = live.find((candidate) => sameIndex(candidate, index));
    // Renaming the index of a primary key renames the constraint too.
    if (counterpart && counterpart.name !== index.name) await client.query(`ALTER INDEX ${index.name} RENAME TO ${counterpart.name}`);
  }
}

/** A connection (in a transaction), or the pool: the index builds run outside any. */
interface Queryable {
  query<Row extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>>;
}

interface TableIndex {
  name: string;
  primary: boolean;
  unique: boolean;
  valid: boolean;
  /** The definition after `USING`: method, columns, options and predicate. */
  method: string;
}

async function indexesOf(client: Queryable, table: string): Promise<TableIndex[]> {
  const { rows } = await client.query<{ name: string; primary: boolean; unique: boolean; valid: boolean; definition: string }>(
    `SELECT index.relname AS name, entry.indisprimary AS primary, entry.indisunique AS unique, entry.indisvalid AS valid,
            pg_get_indexdef(entry.indexrelid) AS definition
     FROM pg_index AS entry JOIN pg_class AS index ON index.oid = entry.indexrelid
     WHERE entry.indrelid = $1::regclass
     ORDER BY index.relname`,
    [table],
  );
  return rows.map(({ definition, ...index }) => ({ ...index, method: definition.slice(definition.indexOf(' USING ') + ' USING '.length) }));
}

/** Named by the live index's place among the live table's indexes: the same name when a resumed rebuild builds it again. */
function twinIndexName(twin: string, at: number): string {
  return `${twin}_${at + 1}`;
}

function sameIndex(a: TableIndex, b: TableIndex): boolean {
  return a.primary === b.primary && a.unique === b.unique && a.method === b.method;
}

/** Creates `index` on the twin under `name` (the live name is taken until the swap); returns the name. */
async function createIndex(client: Queryable, twin: string, index: TableIndex, name: string, { concurrently }: { concurrently: boolean }): Promise<string> {
  await client.query(`CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${concurrently ? 'CONCURRENTLY ' : ''}${name} ON ${twin} USING ${index.method}`);
  return name;
}
