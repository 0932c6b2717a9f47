import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Trailmap } from '../src/app.js';
import { InvalidCatalogExtension } from '../src/domain/catalog/index.js';
import { Database } from '../src/modules/database/database.js';
import { ProjectionsService } from '../src/projections/projections.service.js';
import { apiKeys, bootTrailmap, graphql } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { temporaryFolder } from './support/process.js';
import { caughtUp } from './support/projections.js';

const RECORD = `mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id customerId } } }`;

describe('the event catalog, extended by operators', () => {
  let testDatabase: TestDatabase;
  let folder: string;
  const started: Trailmap[] = [];

  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    folder = await temporaryFolder('trailmap-catalog-');
  });

  afterAll(async () => {
    await Promise.all(started.map((trailmap) => trailmap.stop()));
    await testDatabase?.drop();
    await fs.rm(folder, { recursive: true, force: true });
  });

  const boot = async (environment: Record<string, string>) => {
    const trailmap = await bootTrailmap(testDatabase.url, environment);
    started.push(trailmap);
    return trailmap;
  };

  it('accepts the types a catalog file adds, with their schema and personal data paths', async () => {
    const file = path.join(folder, 'catalog.json');
    await fs.writeFile(
      file,
      JSON.stringify({
        eventTypes: [
          {
            name: 'Wishlist Shared',
            category: 'ENGAGEMENT',
            version: 2,
            schema: { type: 'object', required: ['wishlist_id'], properties: { wishlist_id: { type: 'string' }, recipient_email: { type: 'string' } } },
            piiFields: ['properties.recipient_email'],
          },
        ],
      }),
    );
    const trailmap = await boot({ TRAILMAP_CATALOG: file });
    const userId = `wisher-${randomUUID().slice(0, 8)}`;
    const accepted = await graphql(trailmap, RECORD, { events: [{ type: 'Wishlist Shared', userId, properties: { wishlist_id: 'w-1', recipient_email: 'friend@example.com' } }] }, apiKeys.ingest);
    expect(accepted.errors).toBeUndefined();
    const refused = await graphql(trailmap, RECORD, { events: [{ type: 'Wishlist Shared', userId, properties: {} }] }, apiKeys.ingest);
    expect(refused.errors![0]!.extensions).toMatchObject({ problems: [expect.objectContaining({ field: 'properties.wishlist_id', rule: 'required' })] });

    const database = trailmap.app.get(Database);
    const { rows } = await database.query<{ raw: string; version: number }>(
      "SELECT data::text AS raw, (metadata->>'schemaVersion')::int AS version FROM event_store_events WHERE stream = $1",
      [`customer-${userId}`],
    );
    expect(rows[0]!.raw).not.toContain('friend@example.com');
    expect(rows[0]!.version).toBe(2);
    const types = await graphql<{ eventTypes: { name: string; piiFields: string[] }[] }>(trailmap, '{ eventTypes { name piiFields } }', undefined, apiKeys.analyst);
    expect(types.data!.eventTypes.find((type) => type.name === 'Wishlist Shared')!.piiFields).toContain('properties.recipient_email');
  });

  it('accepts undescribed types only when configured to, keeping their properties out of analytics', async () => {
    const strict = await boot({});
    const refused = await graphql(strict, RECORD, { events: [{ type: 'Gift Card Redeemed', userId: 'u', properties: { code: 'X' } }] }, apiKeys.ingest);
    expect(refused.errors![0]!.extensions).toMatchObject({ problems: [expect.objectContaining({ field: 'type', rule: 'unknown_event_type' })] });

    const lenient = await boot({ TRAILMAP_ALLOW_UNKNOWN_EVENTS: 'true' });
    const userId = `gifted-${randomUUID().slice(0, 8)}`;
    const response = await graphql<{ recordEvents: { results: { id: string }[] } }>(
      lenient,
      RECORD,
      { events: [{ type: 'Gift Card Redeemed', userId, properties: { code: 'GIFT-SECRET-42' } }] },
      apiKeys.ingest,
    );
    expect(response.errors).toBeUndefined();
    await caughtUp(lenient.app.get(ProjectionsService));
    const database = lenient.app.get(Database);
    const { rows } = await database.query<{ category: string; properties: unknown }>('SELECT category, properties FROM analytics_events WHERE event_id = $1', [
      response.data!.recordEvents.results[0]!.id,
    ]);
    expect(rows).toEqual([{ category: 'ENGAGEMENT', properties: {} }]);
  });

  it('refuses to start on an invalid catalog file, naming the entry and the field', async () => {
    const file = path.join(folder, 'broken.json');
    await fs.writeFile(file, JSON.stringify({ eventTypes: [{ name: 'Broken', category: 'SOMEWHERE', version: 1 }] }));
    const error = await boot({ TRAILMAP_CATALOG: file }).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidCatalogExtension);
    expect((error as Error).message).toMatch(/category/);
  });
});
