import { randomBytes, randomUUID } from 'node:crypto';
import type { Trailmap } from '../src/app.js';
import { Database } from '../src/modules/database/database.js';
import { ProjectionsService } from '../src/projections/projections.service.js';
import { apiKeys, bootTrailmap, graphql, testEnvironment } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ServerProcess } from './support/process.js';
import { caughtUp, readModels } from './support/projections.js';

const RECORD = `mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id customerId } } }`;

describe('privacy: erasure by crypto-shredding, access requests, key rotation', () => {
  let testDatabase: TestDatabase;
  let trailmap: Trailmap;
  let database: Database;
  let projections: ProjectionsService;
  const run = randomUUID().slice(0, 6);
  const at = (minutes: number) => new Date(Date.UTC(2026, 10, 3, 9, 0) + minutes * 60_000).toISOString();

  beforeAll(async () => {
    testDatabase = await createTestDatabase({ migrated: false });
    trailmap = await bootTrailmap(testDatabase.url);
    database = new Database(testDatabase.url, 4);
    projections = trailmap.app.get(ProjectionsService);
  });

  afterAll(async () => {
    await trailmap?.stop();
    await database?.end();
    await testDatabase?.drop();
  });

  const record = async (events: unknown[]) => {
    const response = await graphql(trailmap, RECORD, { events }, apiKeys.ingest);
    if (response.errors) throw new Error(JSON.stringify(response.errors));
  };

  /** A customer with personal data in traits, properties and context, and an anonymous history. */
  async function customerWithPersonalData(name: string) {
    const userId = `${name}-${run}`;
    const anonymousId = `${name}-visitor-${run}`;
    const personal = {
      email: `${name}.${run}@example.com`,
      name: `${name} Hopper-${run}`,
      phone: `+1 555 01${run.replace(/\D/g, '0').slice(0, 2)}`,
      review: `Loved it, ${name} from Arlington ${run}`,
      street: `${run} Compiler Lane`,
    };
    await record([
      { type: 'Page Viewed', anonymousId, occurredAt: at(0), properties: { path: '/', url: `https://shop.example/?email=${personal.email}` } },
      { type: 'Signed Up', anonymousId, userId, occurredAt: at(1), traits: { email: personal.email, name: personal.name, phone: personal.phone, address: { street: personal.street } } },
      { type: 'Order Completed', userId, occurredAt: at(2), properties: { order_id: `o-${name}`, revenue: 50 } },
      { type: 'Product Reviewed', userId, occurredAt: at(3), properties: { product_id: 'p', rating: 5, review_body: personal.review } },
    ]);
    await caughtUp(projections);
    return { userId, anonymousId, personal };
  }

  /** Every row of every table of the database, as text. */
  async function everything(): Promise<string> {
    const { rows } = await database.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'");
    const dumps = await Promise.all(rows.map(async ({ table_name }) => (await database.query<{ dump: string | null }>(`SELECT string_agg(t::text, E'\\n') AS dump FROM ${table_name} t`)).rows[0]!.dump ?? ''));
    return dumps.join('\n');
  }

  const analyticsCounts = async () =>
    (await database.query(
      `SELECT (SELECT count(*) FROM analytics_events WHERE event_type <> 'Customer Forgotten') AS events,
              (SELECT sum(events) FROM analytics_daily_activity WHERE event_type <> 'Customer Forgotten') AS daily,
              (SELECT count(*) FROM analytics_stage_transitions) AS transitions`,
    )).rows[0];

  it('forgets a customer: no plaintext personal data anywhere, events kept, analytics unchanged, identities no longer resolve, rebuild the same', async () => {
    const { userId, anonymousId, personal } = await customerWithPersonalData('grace');
    expect(await everything()).toContain(personal.email);
    const eventsBefore = (await database.query<{ count: string }>('SELECT count(*) FROM event_store_events')).rows[0]!.count;
    const analyticsBefore = await analyticsCounts();

    const forgotten = await graphql<{ forgetCustomer: { customerId: string; forgottenAt: string } }>(
      trailmap,
      `mutation { forgetCustomer(id: "${userId}") { customerId forgottenAt } }`,
      undefined,
      apiKeys.operator,
    );
    expect(forgotten.errors).toBeUndefined();
    expect(forgotten.data!.forgetCustomer.customerId).toBe(userId);
    await caughtUp(projections);

    const dump = await everything();
    for (const value of Object.values(personal)) expect(dump).not.toContain(value);
    expect(dump).not.toContain(personal.email.toLowerCase());
    const eventsAfter = (await database.query<{ count: string }>('SELECT count(*) FROM event_store_events')).rows[0]!.count;
    expect(Number(eventsAfter)).toBe(Number(eventsBefore) + 2); // Customer Forgotten, for the user and the folded visitor
    expect(await analyticsCounts()).toEqual(analyticsBefore);

    const lookups = await Promise.all(
      [
        ['EMAIL', personal.email],
        ['PHONE', personal.phone],
        ['ANONYMOUS_ID', anonymousId],
      ].map(([kind, value]) =>
        graphql<{ customerByIdentity: unknown }>(trailmap, 'query($kind: IdentityKind!, $value: String!) { customerByIdentity(kind: $kind, value: $value) { id } }', { kind, value }, apiKeys.support),
      ),
    );
    expect(lookups.map((lookup) => lookup.data!.customerByIdentity)).toEqual([null, null, null]);
    const customer = await graphql<{ customer: Record<string, unknown> }>(
      trailmap,
      `{ customer(id: "${userId}") { id forgotten email name phone traits metrics { events orders } timeline(first: 10) { edges { node { type traits properties } } } } }`,
      undefined,
      apiKeys.support,
    );
    expect(customer.data!.customer).toMatchObject({ id: userId, forgotten: true, email: null, name: null, phone: null, traits: {}, metrics: { orders: 1 } });
    expect(JSON.stringify(customer.data)).not.toContain(personal.review);

    const again = await graphql<{ forgetCustomer: { forgottenAt: string } }>(trailmap, `mutation { forgetCustomer(id: "${userId}") { forgottenAt } }`, undefined, apiKeys.operator);
    expect(again.data!.forgetCustomer.forgottenAt).toBe(forgotten.data!.forgetCustomer.forgottenAt);

    // Events the forgotten visitor sends later keep no personal data either.
    await record([{ type: 'Identified', anonymousId, traits: { email: personal.email } }]);
    await caughtUp(projections);
    expect(await everything()).not.toContain(personal.email);

    const live = await readModels(database);
    for (const { name } of projections.projections) await projections.requestRebuild(name);
    await caughtUp(projections, 60_000);
    expect(await readModels(database)).toEqual(live);
  }, 120_000);

  it('exports a customer with their decrypted timeline, by GraphQL and by the CLI, and logs who read it', async () => {
    const { userId, personal } = await customerWithPersonalData('lin');
    const exported = await graphql<{ customerExport: { customer: Record<string, unknown>; events: { type: string; traits: Record<string, unknown>; properties: Record<string, unknown> }[] } }>(
      trailmap,
      `{ customerExport(id: "${userId}") }`,
      undefined,
      apiKeys.support,
    );
    expect(exported.errors).toBeUndefined();
    expect(exported.data!.customerExport.customer).toMatchObject({ id: userId, email: personal.email, name: personal.name });
    expect(exported.data!.customerExport.events.map((event) => event.type)).toEqual(['Page Viewed', 'Identity Linked', 'Signed Up', 'Order Completed', 'Product Reviewed']);
    expect(exported.data!.customerExport.events[4]!.properties.review_body).toBe(personal.review);

    const command = ServerProcess.start({ ...(testEnvironment() as Record<string, string>), DATABASE_URL: testDatabase.url, LOG_LEVEL: 'silent' }, 'dist/cli.js', ['export', userId]);
    expect(await command.exited).toBe(0);
    const printed = JSON.parse(command.output.join('\n')) as { customer: { email: string }; events: unknown[] };
    expect(printed.customer.email).toBe(personal.email);
    expect(printed.events).toHaveLength(5);

    const reads = await graphql<{ personalDataAccess: { keyId: string; customerId: string; fields: string[] }[] }>(
      trailmap,
      `{ personalDataAccess(customerId: "${userId}") { keyId customerId fields operation at } }`,
      undefined,
      apiKeys.operator,
    );
    expect(reads.data!.personalDataAccess).toEqual(expect.arrayContaining([expect.objectContaining({ customerId: userId, fields: ['export'] })]));
    expect(JSON.stringify(reads.data)).not.toContain(personal.email);
  });

  it('rotates the master key: data keys re-wrapped, the log untouched, personal data still readable', async () => {
    const { userId, personal } = await customerWithPersonalData('mary');
    const logBefore = (await database.query<{ digest: string }>("SELECT md5(string_agg(t::text, '' ORDER BY global_position)) AS digest FROM event_store_events t")).rows[0]!.digest;
    const oldKey = testEnvironment().TRAILMAP_MASTER_KEY!;
    const newKey = randomBytes(32).toString('base64');
    const rotated = { ...(testEnvironment() as Record<string, string>), TRAILMAP_MASTER_KEY: newKey, TRAILMAP_PREVIOUS_MASTER_KEYS: oldKey, DATABASE_URL: testDatabase.url, LOG_LEVEL: 'silent' };
    const command = ServerProcess.start(rotated, 'dist/cli.js', ['rewrap-keys']);
    expect(await command.exited).toBe(0);
    expect(command.output.join('\n')).toMatch(/^Re-wrapped [1-9]\d* data key\(s\)/);

    const afterRotation = await bootTrailmap(testDatabase.url, { TRAILMAP_MASTER_KEY: newKey });
    try {
      const exported = await graphql<{ customerExport: { events: { properties: Record<string, unknown> }[] } }>(afterRotation, `{ customerExport(id: "${userId}") }`, undefined, apiKeys.support);
      expect(exported.data!.customerExport.events.at(-1)!.properties.review_body).toBe(personal.review);
    } finally {
      await afterRotation.stop();
    }
    const logAfter = (await database.query<{ digest: string }>("SELECT md5(string_agg(t::text, '' ORDER BY global_position)) AS digest FROM event_store_events t")).rows[0]!.digest;
    expect(logAfter).toBe(logBefore);
  }, 60_000);
});

describe('a new pseudonym key', () => {
  it('applies on the next rebuild: new pseudonyms, the same counts, identities found again', async () => {
    const testDatabase = await createTestDatabase({ migrated: false });
    const database = new Database(testDatabase.url, 2);
    const userId = `rotated-${randomUUID().slice(0, 6)}`;
    const anonymousId = `${userId}-visitor`;
    let trailmap = await bootTrailmap(testDatabase.url);
    try {
      await graphql(trailmap, RECORD, { events: [
        { type: 'Page Viewed', anonymousId, properties: { path: '/' } },
        { type: 'Signed Up', anonymousId, userId, traits: { email: `${userId}@example.com` } },
        { type: 'Product Added', userId, properties: { product_id: 'p' } },
      ] }, apiKeys.ingest);
      await caughtUp(trailmap.app.get(ProjectionsService));
      const pseudonymsBefore = (await database.query<{ pseudonym: string }>('SELECT DISTINCT pseudonym FROM analytics_events ORDER BY 1')).rows.map((row) => row.pseudonym);
      const activityBefore = (await database.query('SELECT day, category, event_type, events, customers FROM analytics_daily_activity ORDER BY 1, 2, 3')).rows;
      await trailmap.stop();

      trailmap = await bootTrailmap(testDatabase.url, { TRAILMAP_PSEUDONYM_KEY: randomBytes(32).toString('base64') });
      const projections = trailmap.app.get(ProjectionsService);
      for (const { name } of projections.projections) await projections.requestRebuild(name);
      await caughtUp(projections, 60_000);
      const pseudonymsAfter = (await database.query<{ pseudonym: string }>('SELECT DISTINCT pseudonym FROM analytics_events ORDER BY 1')).rows.map((row) => row.pseudonym);
      expect(pseudonymsAfter).toHaveLength(pseudonymsBefore.length);
      expect(pseudonymsAfter.filter((pseudonym) => pseudonymsBefore.includes(pseudonym))).toEqual([]);
      expect((await database.query('SELECT day, category, event_type, events, customers FROM analytics_daily_activity ORDER BY 1, 2, 3')).rows).toEqual(activityBefore);
      const found = await graphql<{ customerByIdentity: { id: string } }>(trailmap, `{ customerByIdentity(kind: EMAIL, value: "${userId}@example.com") { id } }`, undefined, apiKeys.support);
      expect(found.data!.customerByIdentity).toEqual({ id: userId });
    } finally {
      await trailmap.stop();
      await database.end();
      await testDatabase.drop();
    }
  }, 90_000);
});
