import pg from 'pg';

export type Queryable = Pick<pg.PoolClient, 'query'>;

/** The one PostgreSQL pool of an instance, with transactions that always end. */
export class Database {
  readonly pool: pg.Pool;

  constructor(
    readonly url: string,
    poolSize: number,
    applicationName = 'trailmap',
  ) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      application_name: applicationName,
      connectionTimeoutMillis: 5_000,
    });
    // An idle client losing its connection (database restart) must not crash the process.
    this.pool.on('error', () => undefined);
    // Nor a checked-out one between two queries (the pool listens on idle clients only): the next query fails instead.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  query<Row extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]) {
    return this.pool.query<Row>(text, values);
  }

  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** A dedicated connection outside the pool, for LISTEN or session-level advisory locks. */
  async connect(applicationName = 'trailmap'): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url, application_name: applicationName });
    await client.connect();
    return client;
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}
