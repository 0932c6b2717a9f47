import { createClient } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import type { Trailmap } from '../src/app.js';
import { Database } from '../src/modules/database/database.js';
import { STREAM_LOCK_SPACE } from '../src/modules/event-store/postgres/postgres-event-store.js';
import { apiKeys, bootTrailmap, graphql } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

describe('the server', () => {
  let database: TestDatabase;
  let trailmap: Trailmap;

  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false });
    trailmap = await bootTrailmap(database.url);
  });

  afterAll(async () => {
    await trailmap?.stop();
    await database?.drop();
  });

  it('answers a GraphQL query at /graphql', async () => {
    const response = await graphql(trailmap, '{ __typename }');
    expect(response).toEqual({ data: { __typename: 'Query' } });
  });

  it('is live and ready once the database answers and migrations are applied', async () => {
    const live = await fetch(`${trailmap.url}/health/live`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${trailmap.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok' });
  });

  it('is not ready while a migration of this build is missing from the database', async () => {
    const pool = trailmap.app.get(Database);
    const { rows } = await pool.query<{ name: string }>('DELETE FROM trailmap_migrations WHERE id = (SELECT max(id) FROM trailmap_migrations) RETURNING *');
    try {
      const ready = await fetch(`${trailmap.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'unavailable', reason: `migrations not applied: ${rows[0]!.name}` });
    } finally {
      await pool.query('INSERT INTO trailmap_migrations SELECT (json_populate_record(null::trailmap_migrations, $1)).*', [JSON.stringify(rows[0])]);
    }
    expect((await fetch(`${trailmap.url}/health/ready`)).status).toBe(200);
  });

  it('accepts graphql-ws connections on the same path', async () => {
    const client = createClient({
      url: trailmap.graphqlUrl.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${apiKeys.support}` },
    });
    try {
      const result = await new Promise((resolve, reject) => {
        client.subscribe({ query: '{ __typename }' }, { next: resolve, error: reject, complete: () => undefined });
      });
      expect(result).toEqual({ data: { __typename: 'Query' } });
    } finally {
      await client.dispose();
    }
  });
});

describe('a graceful shutdown', () => {
  it('finishes the requests in flight before closing the database', async () => {
    const database = await createTestDatabase();
    const trailmap = await bootTrailmap(database.url);
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      const record = (userId: string) =>
        graphql<{ recordEvents: { results: { duplicate: boolean }[] } }>(
          trailmap,
          'mutation($events: [EventInput!]!) { recordEvents(events: $events) { results { duplicate } } }',
          { events: [{ type: 'Page Viewed', userId }] },
          apiKeys.ingest,
        );
      await record('held');
      // Hold the stream's append lock: the next append to it waits inside its request.
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(${STREAM_LOCK_SPACE}, hashtext('customer-held') & 1023)`);
      const inFlight = record('held');
      await new Promise((resolve) => setTimeout(resolve, 200));
      let stopped = false;
      const stopping = trailmap.stop().then(() => (stopped = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(stopped).toBe(false);
      await expect(fetch(`${trailmap.url}/health/live`)).rejects.toThrow();

      await holder.query('COMMIT');
      expect((await inFlight).data!.recordEvents.results).toEqual([{ duplicate: false }]);
      await stopping;
      const { rows } = await holder.query("SELECT count(*)::int AS count FROM event_store_events WHERE stream = 'customer-held'");
      expect(rows[0].count).toBe(2);
    } finally {
      await holder.end();
      await trailmap.stop();
      await database.drop();
    }
  });
});
