import type { Trailmap } from '../src/app.js';
import { apiKeys, bootTrailmap, graphql } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

type Role = keyof typeof apiKeys | 'none';
const roles: Role[] = ['none', 'ingest', 'support', 'analyst', 'operator', 'admin'];

/** Every door of the API, and the roles that may pass it (admin may pass all). */
const operations: { name: string; query: string; allowed: Role[] }[] = [
  { name: 'recordEvents', query: 'mutation { recordEvents(events: [{ type: "Page Viewed", userId: "matrix" }]) { results { id } } }', allowed: ['ingest'] },
  { name: 'customer', query: '{ customer(id: "matrix") { id } }', allowed: ['support', 'analyst', 'operator'] },
  { name: 'customerByIdentity by user id', query: '{ customerByIdentity(kind: USER_ID, value: "matrix") { id } }', allowed: ['support', 'analyst', 'operator'] },
  { name: 'customerByIdentity by email', query: '{ customerByIdentity(kind: EMAIL, value: "m@example.com") { id } }', allowed: ['support'] },
  { name: 'customers', query: '{ customers { totalCount } }', allowed: ['support', 'analyst', 'operator'] },
  { name: 'customerExport', query: '{ customerExport(id: "nobody") }', allowed: ['support'] },
  { name: 'stageCounts', query: '{ stageCounts { stage } }', allowed: ['analyst'] },
  { name: 'journeyFunnel', query: '{ journeyFunnel { steps { stage } } }', allowed: ['analyst'] },
  { name: 'dailyActivity', query: '{ dailyActivity { day } }', allowed: ['analyst'] },
  { name: 'eventTypes', query: '{ eventTypes { name } }', allowed: ['ingest', 'support', 'analyst', 'operator'] },
  { name: 'projections', query: '{ projections { name } }', allowed: ['operator'] },
  { name: 'rebuildProjection', query: 'mutation { rebuildProjection(name: "nope") { name } }', allowed: ['operator'] },
  { name: 'forgetCustomer', query: 'mutation { forgetCustomer(id: "nobody") { customerId } }', allowed: ['operator'] },
  { name: 'personalDataAccess', query: '{ personalDataAccess(customerId: "matrix") { at } }', allowed: ['operator'] },
];

describe('the role matrix', () => {
  let testDatabase: TestDatabase;
  let trailmap: Trailmap;

  beforeAll(async () => {
    testDatabase = await createTestDatabase({ migrated: false });
    trailmap = await bootTrailmap(testDatabase.url, { TRAILMAP_PROJECTIONS: 'off' });
  });

  afterAll(async () => {
    await trailmap?.stop();
    await testDatabase?.drop();
  });

  const keyOf = (role: Role) => (role === 'none' ? '' : apiKeys[role]);

  describe.each(operations)('$name', ({ query, allowed }) => {
    it.each(roles)('as %s', async (role) => {
      const response = await graphql(trailmap, query, undefined, keyOf(role));
      const codes = (response.errors ?? []).map((error) => error.extensions?.code);
      if (role === 'none') expect(codes).toContain('UNAUTHENTICATED');
      else if (role === 'admin' || allowed.includes(role)) expect(codes.filter((code) => code === 'FORBIDDEN' || code === 'UNAUTHENTICATED')).toEqual([]);
      else expect(codes).toContain('FORBIDDEN');
    });
  });

  describe.each([
    ['/v1/track', { userId: 'matrix', event: 'Cart Viewed' }, ['ingest']],
    ['/v1/batch', { batch: [{ type: 'track', userId: 'matrix', event: 'Cart Viewed' }] }, ['ingest']],
  ] as const)('POST %s', (path, body, allowed) => {
    it.each(roles)('as %s', async (role) => {
      const response = await fetch(`${trailmap.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(role !== 'none' && { authorization: `Basic ${Buffer.from(`${keyOf(role)}:`).toString('base64')}` }) },
        body: JSON.stringify(body),
      });
      const expected = role === 'none' ? 401 : role === 'admin' || (allowed as readonly string[]).includes(role) ? 200 : 403;
      expect(response.status).toBe(expected);
    });
  });

  it('keeps health open to load balancers', async () => {
    expect((await fetch(`${trailmap.url}/health/live`)).status).toBe(200);
    expect((await fetch(`${trailmap.url}/health/ready`)).status).toBe(200);
  });
});
