import type pg from 'pg';
import { Database, inTransaction } from '../src/modules/database/database.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

describe('the database', () => {
  let testDatabase: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = new Database(testDatabase.url, 2);
    await database.query('CREATE TABLE committed_with (id integer PRIMARY KEY)');
  });

  afterAll(async () => {
    await database?.end();
    await testDatabase?.drop();
  });

  /** Counts what the client's socket hands to the system while `work` runs (a corked socket's messages go in one `writev`). */
  async function writesDuring<T>(client: pg.PoolClient, work: () => Promise<T>): Promise<{ result: T; writes: number }> {
    const socket = (client as unknown as pg.Client).connection.stream as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
    const originals = { _write: socket._write, _writev: socket._writev };
    let writes = 0;
    for (const name of ['_write', '_writev'] as const) {
      socket[name] = (...args: unknown[]) => {
        writes += 1;
        return originals[name].apply(socket, args);
      };
    }
    try {
      const result = await work();
      return { result, writes };
    } finally {
      Object.assign(socket, originals);
    }
  }

  const stored = async () => (await database.query<{ id: number }>('SELECT id FROM committed_with ORDER BY id')).rows.map((row) => row.id);

  it('sends a transaction’s last statements with its COMMIT, in one write, and answers them once committed', async () => {
    const client = await database.pool.connect();
    try {
      const { result, writes } = await writesDuring(client, () =>
        inTransaction(client, async (commitWith) => {
          await client.query('SELECT 1');
          const results = await commitWith(() => [client.query('INSERT INTO committed_with VALUES (1), (2)'), client.query('SELECT count(*)::int AS n FROM committed_with')]);
          return results.map((answer) => answer.rowCount);
        }),
      );
      expect(result).toEqual([2, 1]);
      // BEGIN travels with the first statement, the rest with the COMMIT: two writes in all, none after.
      expect(writes).toBe(2);
      expect(await stored()).toEqual([1, 2]);
    } finally {
      client.release();
    }
  });

  it('rolls the transaction back when a statement sent with the COMMIT fails, and rejects with its error', async () => {
    const client = await database.pool.connect();
    try {
      const failed = inTransaction(client, async (commitWith) => {
        await client.query('INSERT INTO committed_with VALUES (3)');
        await commitWith(() => [client.query('INSERT INTO committed_with VALUES (4)'), client.query('SELECT 1 / 0')]);
      });
      await expect(failed).rejects.toMatchObject({ code: '22012' });
      expect(await stored()).toEqual([1, 2]);
      // The connection is left outside any transaction (a savepoint needs one), and usable.
      await expect(client.query('SAVEPOINT probe')).rejects.toMatchObject({ code: '25P01' });
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    } finally {
      client.release();
    }
  });

  it('plans statements once for any values on the connections of a database asked to, pooled and dedicated', async () => {
    const generic = new Database(testDatabase.url, 1, 'trailmap-test', { genericPlans: true });
    const dedicated = await generic.connect();
    try {
      const mode = async (queryable: { query: Database['query'] }) => (await queryable.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]!.plan_cache_mode;
      expect(await mode(generic)).toBe('force_generic_plan');
      expect(await mode(dedicated)).toBe('force_generic_plan');
      expect(await mode(database)).toBe('auto');
      // A dedicated connection (a projection runner's) keeps its statements prepared as the pool's do, so the mode applies to
      // them: an unnamed statement is planned on every call whatever it says.
      for (const id of [1, 2, 3]) await dedicated.query('SELECT id FROM committed_with WHERE id = $1', [id]);
      const { rows } = await dedicated.query<{ generic_plans: string; custom_plans: string }>(
        `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = 'SELECT id FROM committed_with WHERE id = $1'`,
      );
      expect(rows.map((row) => [Number(row.generic_plans), Number(row.custom_plans)])).toEqual([[3, 0]]);
    } finally {
      await dedicated.end();
      await generic.end();
    }
  });
});
