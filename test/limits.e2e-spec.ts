import { randomUUID } from 'node:crypto';
import { getIntrospectionQuery } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Trailmap } from '../src/app.js';
import { ProjectionsService } from '../src/projections/projections.service.js';
import { apiKeys, bootTrailmap, graphql, type GraphQLResponse } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { caughtUp } from './support/projections.js';

describe('personal data on the read side, and abuse limits', () => {
  let testDatabase: TestDatabase;
  let trailmap: Trailmap;
  const userId = `limits-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    testDatabase = await createTestDatabase({ migrated: false });
    trailmap = await bootTrailmap(testDatabase.url);
    await graphql(
      trailmap,
      'mutation($events: [EventInput!]!) { recordEvents(events: $events) { results { id } } }',
      { events: [{ type: 'Identified', userId, traits: { email: 'edsger@example.com', plan: 'pro' } }, { type: 'Product Reviewed', userId, properties: { product_id: 'p', review_body: 'Goto considered' } }] },
      apiKeys.ingest,
    );
    await caughtUp(trailmap.app.get(ProjectionsService));
  });

  afterAll(async () => {
    await trailmap?.stop();
    await testDatabase?.drop();
  });

  const timed = async <T>(work: () => Promise<T>) => {
    const started = performance.now();
    const result = await work();
    return { result, ms: performance.now() - started };
  };

  it('gives a key without the personal data permission null and FORBIDDEN for each personal field, and the rest intact', async () => {
    const { data, errors } = await graphql<{ customer: Record<string, any> }>(
      trailmap,
      `{ customer(id: "${userId}") { id email traits metrics { events } identities { kind value } timeline(first: 5) { edges { node { type properties } } } } }`,
      undefined,
      apiKeys.analyst,
    );
    expect(data!.customer).toMatchObject({ id: userId, email: null, traits: null, metrics: { events: 2 }, identities: [{ kind: 'USER_ID', value: userId }] });
    expect(JSON.stringify(data)).not.toMatch(/edsger|Goto/);
    expect(errors!.map((error) => [error.path?.join('.'), error.extensions?.code])).toEqual(
      expect.arrayContaining([
        ['customer.email', 'FORBIDDEN'],
        ['customer.traits', 'FORBIDDEN'],
        ['customer.identities', 'FORBIDDEN'],
        ['customer.timeline.edges.1.node.properties', 'FORBIDDEN'],
      ]),
    );
  });

  it('logs every read of personal data: who, which customer, which fields, and no personal data', async () => {
    await graphql(trailmap, `{ customer(id: "${userId}") { email identities { value } } }`, undefined, apiKeys.support);
    await graphql(trailmap, `{ customerByIdentity(kind: EMAIL, value: "EDSGER@example.com") { id } }`, undefined, apiKeys.support);
    const { data } = await graphql<{ personalDataAccess: { keyId: string; fields: string[]; operation: string }[] }>(
      trailmap,
      `{ personalDataAccess(customerId: "${userId}") { keyId fields operation at } }`,
      undefined,
      apiKeys.operator,
    );
    expect(data!.personalDataAccess.map((read) => read.fields)).toEqual(expect.arrayContaining([['email', 'identities'], ['lookup:EMAIL']]));
    expect(new Set(data!.personalDataAccess.map((read) => read.keyId)).size).toBe(1);
    expect(JSON.stringify(data)).not.toContain('edsger');
  });

  it('answers the standard introspection query in development', async () => {
    const response = await graphql(trailmap, getIntrospectionQuery(), undefined, apiKeys.analyst);
    expect(response.errors).toBeUndefined();
  });

  it('refuses a huge alias fan-out quickly', async () => {
    const fanOut = `{ ${Array.from({ length: 500 }, (_, index) => `a${index}: eventTypes { name schema }`).join(' ')} }`;
    const { result, ms } = await timed(() => graphql(trailmap, fanOut, undefined, apiKeys.analyst));
    expect(result.errors![0]!.message).toMatch(/alias/i);
    expect(ms).toBeLessThan(1_000);
  });

  it('refuses an oversized body and batched operations', async () => {
    const { result: oversized, ms } = await timed(() =>
      fetch(trailmap.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKeys.ingest}` },
        body: JSON.stringify({ query: '{ __typename }', variables: { padding: 'x'.repeat(2_000_000) } }),
      }),
    );
    expect(oversized.status).toBe(413);
    expect(ms).toBeLessThan(1_000);
    const batched = await fetch(trailmap.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKeys.analyst}` },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(batched.status).toBe(400);
  });

  it('turns introspection and the sandbox off in production, and refuses a deep query quickly', async () => {
    const production = await bootTrailmap(testDatabase.url, { NODE_ENV: 'production', TRAILMAP_PROJECTIONS: 'off' });
    try {
      const introspection = await graphql(production, '{ __schema { queryType { name } } }', undefined, apiKeys.admin);
      expect(introspection.errors![0]!.message).toMatch(/introspection/i);
      const deep = `{ __schema { types { fields { type ${'{ ofType '.repeat(30)}{ name }${' }'.repeat(30)} } } } }`;
      const { result, ms } = await timed(() => graphql(production, deep, undefined, apiKeys.admin));
      expect(result.errors!.map((error) => error.message).join(' ')).toMatch(/depth limit of 15 exceeded/);
      expect(ms).toBeLessThan(1_000);
      const sandbox = await fetch(production.graphqlUrl, { headers: { accept: 'text/html' } });
      expect(await sandbox.text()).not.toMatch(/graphiql/i);
    } finally {
      await production.stop();
    }
  });

  describe('over graphql-ws', () => {
    /** One operation over a socket of its own: its first result or its errors, or how the socket closed. */
    const overSocket = (on: Trailmap, query: string, variables?: Record<string, unknown>) =>
      new Promise<GraphQLResponse<Record<string, unknown>> | { closed: { code: number; reason: string } }>((resolve) => {
        const client = createClient({
          url: on.graphqlUrl.replace('http', 'ws'),
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          connectionParams: { authorization: `Bearer ${apiKeys.admin}` },
        });
        const settle = (outcome: GraphQLResponse<Record<string, unknown>> | { closed: { code: number; reason: string } }) => {
          resolve(outcome);
          void client.dispose();
        };
        client.subscribe(
          { query, variables },
          {
            next: (result) => settle(result as GraphQLResponse<Record<string, unknown>>),
            error: (error: any) => settle(Array.isArray(error) ? { errors: error } : { closed: { code: error.code, reason: error.reason } }),
            complete: () => undefined,
          },
        );
      });
    const refusals = (response: GraphQLResponse<unknown> | { closed: unknown }) =>
      'errors' in response ? response.errors!.map((error) => ({ message: error.message, code: error.extensions?.code })) : response;

    const aliases = `{ ${Array.from({ length: 500 }, (_, index) => `a${index}: eventTypes { name }`).join(' ')} }`;
    const deep = `{ __schema { types { fields { type ${'{ ofType '.repeat(30)}{ name }${' }'.repeat(30)} } } } }`;
    const tokens = `{ ${Array.from({ length: 6_000 }, () => '__typename').join(' ')} }`;
    const introspection = '{ __schema { queryType { name } } }';
    const twoFields = 'subscription { a: journeyStageChanged { to } b: journeyStageChanged { to } }';
    const misspelt = '{ eventTypez { name } }';
    const syntax = '{ customer(id: ';

    it('refuses what a GraphQL POST refuses, with the same code and message, in development and in production', async () => {
      const production = await bootTrailmap(testDatabase.url, { NODE_ENV: 'production', TRAILMAP_PROJECTIONS: 'off' });
      try {
        for (const on of [trailmap, production]) {
          for (const document of [aliases, deep, tokens, twoFields, misspelt, syntax, introspection]) {
            const overHttp = await graphql(on, document, undefined, apiKeys.admin);
            expect(await overSocket(on, document)).toEqual(overHttp);
            // Refused over HTTP (in development, introspection is served and deep introspection is not counted).
            const served = on === trailmap && (document === deep || document === introspection);
            if (!served) expect([...new Set(refusals(overHttp) as { code: string }[]).values()].map((refusal) => refusal.code)).toContainEqual(expect.stringMatching(/^GRAPHQL_(PARSE|VALIDATION)_FAILED$/));
          }
        }
        expect(refusals(await overSocket(production, misspelt))).toEqual([{ message: expect.stringContaining('[Suggestion hidden]'), code: 'GRAPHQL_VALIDATION_FAILED' }]);
        expect(refusals(await overSocket(trailmap, misspelt))).toEqual([{ message: expect.stringContaining('Did you mean "eventTypes"?'), code: 'GRAPHQL_VALIDATION_FAILED' }]);
        // What is within the limits is served over the socket as over HTTP.
        expect(await overSocket(production, '{ eventTypes { name } }')).toEqual(await graphql(production, '{ eventTypes { name } }', undefined, apiKeys.admin));
        expect(await overSocket(trailmap, introspection)).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
      } finally {
        await production.stop();
      }
    });

    it('closes a socket whose message is larger than a GraphQL body may be, with 1009, and prints nothing outside the log', async () => {
      const printed: unknown[][] = [];
      const print = console.error;
      console.error = (...args: unknown[]) => printed.push(args);
      try {
        const closed = await overSocket(trailmap, '{ __typename }', { padding: 'x'.repeat(1_100_000) });
        expect(closed).toEqual({ closed: { code: 1009, reason: expect.any(String) } });
        await new Promise((resolve) => setTimeout(resolve, 100));
      } finally {
        console.error = print;
      }
      // graphql-ws printed "Internal error emitted on a WebSocket socket" for what is the client's doing.
      expect(printed).toEqual([]);
      expect(await overSocket(trailmap, '{ __typename }', { padding: 'x'.repeat(900_000) })).toEqual({ data: { __typename: 'Query' } });
    });
  });
});
