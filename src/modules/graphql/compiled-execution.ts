import { HeaderMap, type ApolloServerPlugin, type BaseContext, type GraphQLRequestContextResponseForOperation, type GraphQLRequestListener, type GraphQLResponse } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

/** What a document seen before is executed with: its compiled form, or graphql-js where it did not compile. */
type Execution = CompiledQuery | 'interpreted';

/** How an error reaches the caller: the function Apollo is given as `formatError`. */
export type ErrorFormat = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/**
 * Executes the queries and mutations Apollo Server has parsed and validated with graphql-jit, which
 * compiles a document once into a function that resolves its fields, instead of graphql-js walking
 * the document and building a resolve-info object for every field of every request. A `customer(id)`
 * with metrics and stage history has ~30 fields.
 *
 * Apollo Server 5 has no executor option. This plugin answers an operation in `responseForOperation`,
 * the hook Apollo gives plugins to answer in its place; parsing, validation and the other plugins stay
 * Apollo's. (Apollo's gateway interface, used before, builds each request's gateway context with a
 * getter and a setter of its own, and V8 then kept every request alive past the next young-generation
 * collection: ~0.7 MB copied and promoted by each at 500 requests/s, against ~0.17 MB without.)
 *
 * A document is compiled the second time it is seen (Apollo's document store hands back the same
 * parsed document for the same text), so a client sending a new document each time costs no
 * compilation. Where this plugin does not answer, Apollo executes with graphql-js as it would without
 * it: documents seen once, subscriptions, documents without the operation asked for, any document
 * graphql-jit does not compile, and variables refused (nothing has run then: graphql-js refuses them
 * again, with the error Apollo recognizes as the caller's, BAD_USER_INPUT and HTTP 400).
 */
export class CompiledExecution implements ApolloServerPlugin<BaseContext> {
  /** Each document seen, with its operations compiled so far (none the first time it is seen). */
  private readonly executions = new WeakMap<DocumentNode, Map<string, Execution>>();
  private compiled = 0;
  /** One listener for every request: it keeps nothing of a request. */
  private readonly listener: GraphQLRequestListener<BaseContext> = { responseForOperation: (request) => this.respond(request) };

  /**
   * @param format how Apollo formats errors (its `formatError`): a compiled answer's errors are formatted
   * as Apollo formats graphql-js's, with no stack traces in answers (`includeStacktraceInErrorResponses: false`).
   */
  constructor(private readonly format: ErrorFormat) {}

  /** How many operations have been compiled (a document's each operation counts once). */
  get compiledDocuments(): number {
    return this.compiled;
  }

  async requestDidStart(): Promise<GraphQLRequestListener<BaseContext>> {
    return this.listener;
  }

  private async respond({ schema, document, operation, operationName, contextValue, request }: GraphQLRequestContextResponseForOperation<BaseContext>): Promise<GraphQLResponse | null> {
    // Apollo's type says there is always an operation. There is none where the document holds none of
    // the name asked for (or several and no name was asked for): graphql-js answers with the error.
    if (!operation || operation.operation === 'subscription') return null;
    const execution = this.executionOf(schema, document, operationName ?? undefined);
    if (execution === 'interpreted') return null;
    const result = await execution.query(undefined, contextValue, request.variables ?? {});
    if (result.data === undefined) return null;
    const errors = result.errors && graphqlErrors(result.errors).map((error) => this.format(asApolloFormats(error), error));
    return { http: { status: undefined, headers: new HeaderMap() }, body: { kind: 'single', singleResult: { data: result.data, ...(errors && { errors }) } } };
  }

  private executionOf(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): Execution {
    const byOperation = this.executions.get(document);
    if (!byOperation) {
      this.executions.set(document, new Map());
      return 'interpreted';
    }
    const key = operationName ?? '';
    let execution = byOperation.get(key);
    if (execution === undefined) {
      const compiled = compileQuery(schema, document, operationName);
      execution = isCompiledQuery(compiled) ? compiled : 'interpreted';
      if (execution !== 'interpreted') this.compiled += 1;
      byOperation.set(key, execution);
    }
    return execution;
  }
}

/**
 * graphql-jit's errors are its own kind of `GraphQLError`, with no `extensions` where the error had
 * none (graphql-js gives `{}`): they are made graphql-js errors, the same message, place, path and
 * extensions. Their cause is the resolver's error; graphql-js gives its own errors (a null in a
 * non-null field) a cause too, an `Error` of the same message.
 */
function graphqlErrors(errors: ExecutionResult['errors'] & object): GraphQLError[] {
  return errors.map((error) => {
    const originalError = error.originalError ?? new Error(error.message);
    return Object.assign(new GraphQLError(error.message, { path: error.path, originalError, extensions: error.extensions }), { locations: error.locations });
  });
}

/** An execution's error as Apollo hands it to `formatError`: its JSON, with a code (INTERNAL_SERVER_ERROR where it has none). */
function asApolloFormats(error: GraphQLError): GraphQLFormattedError {
  return { ...error.toJSON(), extensions: { ...error.extensions, code: error.extensions.code ?? ApolloServerErrorCode.INTERNAL_SERVER_ERROR } };
}
