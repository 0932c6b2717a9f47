import type { GatewayExecutionResult, GatewayGraphQLRequestContext, GatewayInterface, GatewaySchemaLoadOrUpdateCallback } from '@apollo/server-gateway-interface';
import { execute, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

/** What a document seen before is executed with: its compiled form, or graphql-js where it did not compile. */
type Execution = CompiledQuery | 'interpreted';

/**
 * Executes the queries and mutations Apollo Server has parsed and validated with graphql-jit, which
 * compiles a document once into a function that resolves its fields, instead of graphql-js walking
 * the document and building a resolve-info object for every field of every request. A `customer(id)`
 * with metrics and stage history has ~30 fields.
 *
 * Apollo Server 5 has no executor option; its gateway interface is how an executor is given to it.
 * This one serves the schema Nest built, unchanged (`serve`, from Nest's `transformSchema`), and only
 * executes: parsing, validation, the plugins and the errors' formatting stay Apollo's.
 *
 * A document is compiled the second time it is seen (Apollo's document store hands back the same
 * parsed document for the same text), so a client sending a new document each time costs no
 * compilation. Documents seen once, subscriptions (served by graphql-ws, not here) and any document
 * graphql-jit does not compile run on graphql-js, as before.
 */
export class CompiledExecution implements GatewayInterface {
  private schema?: GraphQLSchema;
  /** Each document seen, with its operations compiled so far (none the first time it is seen). */
  private readonly executions = new WeakMap<DocumentNode, Map<string, Execution>>();
  private compiled = 0;

  /** How many operations have been compiled (a document's each operation counts once). */
  get compiledDocuments(): number {
    return this.compiled;
  }

  /** Nest's `transformSchema`: the schema to execute against, served as it is. */
  readonly serve = (schema: GraphQLSchema): GraphQLSchema => {
    this.schema = schema;
    return schema;
  };

  /** The schema served, once Nest has built it. */
  get servedSchema(): GraphQLSchema {
    if (!this.schema) throw new Error('CompiledExecution: the schema must be built before Apollo Server starts.');
    return this.schema;
  }

  onSchemaLoadOrUpdate(callback: GatewaySchemaLoadOrUpdateCallback): () => void {
    callback({ apiSchema: this.servedSchema, coreSupergraphSdl: '' });
    return () => undefined;
  }

  async load() {
    return { executor: (request: GatewayGraphQLRequestContext) => this.execute(request) };
  }

  async stop(): Promise<void> {}

  private async execute({ document, operationName, operation, context, request }: GatewayGraphQLRequestContext): Promise<GatewayExecutionResult> {
    const schema = this.schema!;
    // Apollo's type says there is always an operation. There is none where the document holds none of
    // the name asked for (or several and no name was asked for): graphql-js answers with the error.
    const execution = !operation || operation.operation === 'subscription' ? 'interpreted' : this.executionOf(schema, document, operationName ?? undefined);
    const interpreted = () => execute({ schema, document, operationName: request.operationName, contextValue: context, variableValues: request.variables });
    if (execution === 'interpreted') return interpreted();
    const result = await execution.query(undefined, context, request.variables ?? {});
    // No data: the variables were refused before anything ran. graphql-js refuses them again, with the
    // error Apollo recognizes as the caller's (BAD_USER_INPUT, HTTP 400) by its variable's node.
    if (result.data === undefined) return interpreted();
    return withGraphQLErrors(result);
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
 * none (graphql-js gives `{}`), and Apollo reads `extensions.code` of each: they are made graphql-js
 * errors, the same message, place, path and extensions. Their cause is the resolver's error; graphql-js
 * gives its own errors (a null in a non-null field) a cause too, an `Error` of the same message.
 */
function withGraphQLErrors(result: ExecutionResult): ExecutionResult {
  if (!result.errors) return result;
  const errors = result.errors.map((error) => {
    const originalError = error.originalError ?? new Error(error.message);
    return Object.assign(new GraphQLError(error.message, { path: error.path, originalError, extensions: error.extensions }), { locations: error.locations });
  });
  return { ...result, errors };
}
