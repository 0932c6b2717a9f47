import { createHash } from 'node:crypto';
import pg from 'pg';

export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface DatabaseOptions {
  /**
   * Every prepared statement planned once per connection, for any values (`plan_cache_mode =
   * force_generic_plan`). PostgreSQL plans a statement anew on each call while a plan for its values
   * looks cheaper than the generic one; for the projections' small live batches (a few customers in an
   * `= ANY($1)`) it always does, and the planning cost as much as the execution.
   */
  genericPlans?: boolean;
}

/** The one PostgreSQL pool of an instance (of its projections thread), with transactions that always end. */
export class Database {
  readonly pool: pg.Pool;
  private readonly sessionOptions?: string;

  constructor(
    readonly url: string,
    poolSize: number,
    applicationName = 'trailmap',
    { genericPlans = false }: DatabaseOptions = {},
  ) {
    this.sessionOptions = genericPlans ? '-c plan_cache_mode=force_generic_plan' : undefined;
    this.pool = new pg.Pool({
      connectionString: url,
      options: this.sessionOptions,
      max: poolSize,
      application_name: applicationName,
      connectionTimeoutMillis: 5_000,
      // A fixed pool: connections stay open once made. Closing idle ones (pg's default, after 10 s) meant that the next burst
      // paid for new ones (a backend started, SCRAM authentication, every statement prepared and planned again on cold caches).
      idleTimeoutMillis: 0,
      // Statements are sent without waiting for the answers before them, so a transaction's statements that do not depend on each other share a round trip.
      pipeline: true,
    });
    // An idle client losing its connection (database restart) must not crash the process.
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => {
      // Nor a checked-out one between two queries (the pool listens on idle clients only): the next query fails instead.
      client.on('error', () => undefined);
      preparingStatements(client);
    });
  }

  query<Row extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]) {
    return this.pool.query<Row>(text, values);
  }

  /** `begin` opens it (`BEGIN` and any `SET LOCAL`s, sent with the work's first statements). */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await inTransaction(client, () => work(client), begin);
    } finally {
      client.release();
    }
  }

  /** A dedicated connection outside the pool, for LISTEN, session-level advisory locks, or a projection runner's live batches. */
  async connect(applicationName = 'trailmap'): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url, options: this.sessionOptions, application_name: applicationName, pipeline: true });
    // A projection runner's live batches run on such a connection: planned once, as on the pool's.
    preparingStatements(client);
    await client.connect();
    return client;
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

/**
 * Sends a transaction's last statements and its COMMIT together (one write, one round trip) and resolves
 * with the statements' results once committed. A failed statement rejects with its error, PostgreSQL
 * having rolled the transaction back at the COMMIT; so a statement whose outcome must refuse the commit
 * has to fail, since nothing can be checked between it and the COMMIT.
 */
export type CommitWith = (send: () => Promise<pg.QueryResult>[]) => Promise<pg.QueryResult[]>;

/**
 * Runs `work` in a transaction on `client`, opened by `begin`, which travels with the statements the
 * work sends before it first waits, and committed after it, unless the work ends it through
 * `commitWith`; a failure rolls it back.
 */
export async function inTransaction<T>(client: pg.ClientBase, work: (commitWith: CommitWith) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  let committed = false;
  const commitWith: CommitWith = async (send) => {
    committed = true;
    const results = await Promise.all(sentTogether(client, () => [...send(), client.query('COMMIT')]));
    assertCommitted(results.pop()!);
    return results;
  };
  try {
    const [begun, working] = sentTogether(client, () => [client.query(begin), work(commitWith)] as const);
    begun.catch(() => undefined); // awaited below, unless the work fails first
    const result = await working;
    await begun;
    if (!committed) assertCommitted(await client.query('COMMIT'));
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** A statement that failed unnoticed leaves an aborted transaction, which COMMIT rolls back. */
function assertCommitted({ command }: pg.QueryResult): void {
  if (command !== 'COMMIT') throw new Error(`The transaction was rolled back (${command}).`);
}

/**
 * Runs `send`, which sends statements without waiting for their answers (connections pipeline), and
 * writes them to the socket at once: one system call and one wake-up of PostgreSQL, not one each.
 */
export function sentTogether<T>(client: pg.ClientBase, send: () => T): T {
  // Every client here is a pg.Client (the pool's too); ClientBase is what the callers are typed with.
  const socket = (client as pg.Client).connection.stream;
  socket.cork();
  try {
    return send();
  } finally {
    socket.uncork();
  }
}

/** Statements worth preparing: the SQL's own texts, parsed and planned once per connection (utility commands are not preparable). */
const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;
const statementNames = new Map<string, string>();

/**
 * Every query text the client runs is parsed once per connection and kept as a prepared statement,
 * named after its text: a profile read or an append then costs PostgreSQL its execution, not a
 * parse and plan each time. The texts are Trailmap's own constants (values travel as parameters),
 * so the statements a connection keeps are few.
 */
function preparingStatements(client: pg.ClientBase): void {
  const query = client.query.bind(client) as (config: unknown, values?: unknown, callback?: unknown) => unknown;
  client.query = ((config: unknown, values?: unknown, callback?: unknown) => {
    if (typeof config !== 'string' || !PREPARABLE.test(config)) return query(config, values, callback);
    return query({ name: statementName(config), text: config }, values, callback);
  }) as typeof client.query;
}

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `trailmap_${createHash('sha1').update(text).digest('base64url')}`;
    statementNames.set(text, name);
  }
  return name;
}
