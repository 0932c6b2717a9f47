import { ApolloServer } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { buildSchema, GraphQLError, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { CompiledExecution } from './compiled-execution.js';

class NotAllowed extends Error {}

const typeDefs = `
  type Query { customer(id: ID!): Customer, failing: Int, refused: Int, count(limit: Int!): Int }
  type Customer { id: ID!, name: String, orders: [Order!]!, secret: String!, tags: [String] }
  type Order { id: ID!, total: Float }
  type Mutation { record(name: String!): [String!]! }
`;

/** A small schema with resolvers of every kind the API has: sync, async, lists, errors with and without a code. */
function schemaWith(recorded: string[]): GraphQLSchema {
  const schema = buildSchema(typeDefs);
  const query = schema.getQueryType()!.getFields();
  query.customer!.resolve = async (_root, { id }: { id: string }) => (id === 'none' ? null : { id, name: `name of ${id}` });
  query.failing!.resolve = () => {
    throw new NotAllowed('not for you');
  };
  query.refused!.resolve = async () => {
    throw new GraphQLError('refused', { extensions: { code: 'FORBIDDEN' } });
  };
  query.count!.resolve = (_root, { limit }: { limit: number }) => limit;
  const customer = schema.getType('Customer') as unknown as { getFields(): Record<string, { resolve?: (parent: { id: string }) => unknown }> };
  customer.getFields().orders!.resolve = async ({ id }) => [{ id: `${id}-1`, total: 12.5 }, { id: `${id}-2`, total: 7 }];
  customer.getFields().secret!.resolve = () => null;
  customer.getFields().tags!.resolve = () => ['a', 'b'];
  schema.getMutationType()!.getFields().record!.resolve = async (_root, { name }: { name: string }) => {
    recorded.push(name);
    return [...recorded];
  };
  return schema;
}

async function serverWith(recorded: string[] = []) {
  const formatError = (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => ({
    ...formatted,
    extensions: { ...formatted.extensions, cause: (unwrapResolverError(error) as Error).constructor.name },
  });
  const execution = new CompiledExecution(formatError);
  const server = new ApolloServer({ schema: schemaWith(recorded), plugins: [execution], formatError, includeStacktraceInErrorResponses: false });
  await server.start();
  const ask = async (query: string, variables?: Record<string, unknown>) => {
    const response = await server.executeOperation({ query, variables });
    if (response.body.kind !== 'single') throw new Error('expected a single result');
    return { status: response.http.status, result: response.body.singleResult };
  };
  return { execution, server, ask };
}

describe('compiled execution of known documents', () => {
  it('compiles a document the second time it is seen, and answers it as graphql-js did', async () => {
    const { execution, server, ask } = await serverWith();
    const query = 'query Q($id: ID!) { customer(id: $id) { id name orders { id total } tags } count(limit: 3) }';
    const first = await ask(query, { id: 'c1' });
    expect(execution.compiledDocuments).toBe(0);
    const second = await ask(query, { id: 'c1' });
    expect(execution.compiledDocuments).toBe(1);
    expect(second).toEqual(first);
    expect(first.result.data).toEqual({
      customer: { id: 'c1', name: 'name of c1', orders: [{ id: 'c1-1', total: 12.5 }, { id: 'c1-2', total: 7 }], tags: ['a', 'b'] },
      count: 3,
    });
    expect(await ask(query, { id: 'none' })).toEqual({ status: undefined, result: { data: { customer: null, count: 3 } } });
    expect(execution.compiledDocuments).toBe(1);
    await server.stop();
  });

  it('leaves a document seen once uncompiled', async () => {
    const { execution, server, ask } = await serverWith();
    for (let n = 0; n < 5; n++) await ask(`{ count(limit: ${n}) }`);
    expect(execution.compiledDocuments).toBe(0);
    await server.stop();
  });

  it('gives Apollo the same errors: the cause, the code, the place and the path', async () => {
    const { execution, server, ask } = await serverWith();
    const query = '{ failing refused customer(id: "c2") { id secret } }';
    const first = await ask(query);
    const second = await ask(query);
    expect(execution.compiledDocuments).toBe(1);
    expect(second).toEqual(first);
    const errors = first.result.errors!;
    expect(errors.map((error) => [error.path, error.extensions?.code, error.extensions?.cause])).toEqual(
      expect.arrayContaining([
        [['failing'], 'INTERNAL_SERVER_ERROR', 'NotAllowed'],
        [['refused'], 'FORBIDDEN', 'GraphQLError'],
        [['customer', 'secret'], 'INTERNAL_SERVER_ERROR', 'Error'],
      ]),
    );
    expect(errors.find((error) => error.path?.[0] === 'failing')!.locations).toEqual([{ line: 1, column: 3 }]);
    expect(first.result.data).toEqual({ failing: null, refused: null, customer: null });
    await server.stop();
  });

  it('refuses bad variables of a compiled document as before: 400, BAD_USER_INPUT, nothing executed', async () => {
    const recorded: string[] = [];
    const { execution, server, ask } = await serverWith(recorded);
    const mutation = 'mutation M($name: String!) { record(name: $name) }';
    await ask(mutation, { name: 'first' });
    await ask(mutation, { name: 'second' });
    expect(execution.compiledDocuments).toBe(1);
    const refused = await ask(mutation, { name: 42 });
    expect(refused.status).toBe(400);
    expect(refused.result.data).toBeUndefined();
    expect(refused.result.errors!.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(recorded).toEqual(['first', 'second']);
    await server.stop();
  });

  it('answers a document without the operation asked for as graphql-js does, every time', async () => {
    const { execution, server, ask } = await serverWith();
    const twoOperations = 'query A { count(limit: 1) } query B { count(limit: 2) }';
    const answers = [];
    for (let n = 0; n < 3; n++) {
      const response = await server.executeOperation({ query: twoOperations, operationName: 'C' });
      answers.push({ status: response.http.status, body: response.body });
    }
    expect(answers[2]).toEqual(answers[0]);
    expect(answers[0]!.status).toBe(400);
    expect(JSON.stringify(answers[0]!.body)).toContain('Unknown operation named \\"C\\".');
    for (let n = 0; n < 2; n++) expect((await server.executeOperation({ query: twoOperations, operationName: 'B' })).body).toEqual({ kind: 'single', singleResult: { data: { count: 2 } } });
    expect((await ask('query A { count(limit: 1) } query B { count(limit: 2) }')).result.errors![0]!.message).toBe('Must provide operation name if query contains multiple operations.');
    expect(execution.compiledDocuments).toBe(1);
    await server.stop();
  });

  it('runs the root fields of a compiled mutation one after the other', async () => {
    const recorded: string[] = [];
    const { execution, server, ask } = await serverWith(recorded);
    const mutation = 'mutation { a: record(name: "a") b: record(name: "b") c: record(name: "c") }';
    await ask(mutation);
    const second = await ask(mutation);
    expect(execution.compiledDocuments).toBe(1);
    expect(second.result.data).toEqual({ a: ['a', 'b', 'c', 'a'], b: ['a', 'b', 'c', 'a', 'b'], c: ['a', 'b', 'c', 'a', 'b', 'c'] });
    await server.stop();
  });
});
