import { buildSchema, type ExecutionArgs, type GraphQLError } from 'graphql';
import { KEPT_DOCUMENT_CHARS, KEPT_DOCUMENTS, socketOperations } from './operation-rules.js';

const schema = buildSchema('type Query { customer(id: ID!): String } type Subscription { changed(id: ID): String }');

describe('socketOperations', () => {
  const operations = () => socketOperations({ schema: () => schema, validationRules: [], maxTokens: 100, suggestions: false });
  const document = (onSubscribe: ReturnType<typeof operations>, query: string) => {
    const args = onSubscribe(undefined, '1', { query });
    if (Array.isArray(args)) throw new Error(JSON.stringify(args));
    return (args as ExecutionArgs).document;
  };

  it('gives the same document for the same text, parsed once, so that subscriptions sending it can share results', () => {
    const onSubscribe = operations();
    const query = 'subscription { changed }';
    expect(document(onSubscribe, query)).toBe(document(onSubscribe, query));
    expect(document(onSubscribe, query)).not.toBe(document(operations(), query));
  });

  it('keeps neither a text longer than it keeps nor more documents than it keeps', () => {
    const onSubscribe = operations();
    const long = `subscription { changed(id: "${'x'.repeat(KEPT_DOCUMENT_CHARS)}") }`;
    expect(document(onSubscribe, long)).not.toBe(document(onSubscribe, long));
    const first = 'subscription { changed(id: "0") }';
    const kept = document(onSubscribe, first);
    for (let index = 1; index <= KEPT_DOCUMENTS; index += 1) document(onSubscribe, `subscription { changed(id: "${index}") }`);
    expect(document(onSubscribe, first)).not.toBe(kept);
  });

  it('refuses with the code of the step that refused, and hides suggestions when told to', () => {
    const onSubscribe = operations();
    const refusals = (query: string) => (onSubscribe(undefined, '1', { query }) as GraphQLError[]).map((error) => [error.extensions.code, error.message]);
    expect(refusals('subscription { changed(')).toEqual([['GRAPHQL_PARSE_FAILED', expect.stringMatching(/^Syntax Error/)]]);
    expect(refusals(`{ ${'customer(id: "x") '.repeat(30)} }`)).toEqual([['GRAPHQL_PARSE_FAILED', expect.stringContaining('100 tokens. Parsing aborted')]]);
    expect(refusals('{ custome(id: "x") }')).toEqual([['GRAPHQL_VALIDATION_FAILED', 'Cannot query field "custome" on type "Query". [Suggestion hidden]?']]);
  });
});
