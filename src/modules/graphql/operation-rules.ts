import { GraphQLError, parse, specifiedRules, validate, type DocumentNode, type ExecutionArgs, type GraphQLSchema, type ValidationRule } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';

/** Where introspection is off (production), a document that asks for the schema is refused. */
export const refuseIntrospection: ValidationRule = (context) => ({
  Field(node) {
    if (node.name.value === '__schema' || node.name.value === '__type') {
      context.reportError(
        new GraphQLError(`Introspection is off on this server: the operation asks for ${node.name.value}.`, {
          nodes: [node],
          extensions: { validationErrorCode: 'INTROSPECTION_DISABLED' },
        }),
      );
    }
  },
});

export interface SocketOperationRules {
  /** The schema Apollo Server serves (read when the first operation arrives: Nest builds it after the options). */
  schema: () => GraphQLSchema;
  /** The rules a GraphQL POST is validated by beyond GraphQL's own: graphql-armor's limits, introspection. */
  validationRules: readonly ValidationRule[];
  maxTokens: number;
  /** Whether "Did you mean …" suggestions, which describe the schema, may reach the client. */
  suggestions: boolean;
}

/**
 * Validated documents kept by their text: parsed and validated once, and the same object for every
 * subscription that sends it. Up to this many, of up to `KEPT_DOCUMENT_CHARS` each (at most ~10 MB
 * of text held); a longer text, which a string argument can make, is parsed each time it is sent.
 */
export const KEPT_DOCUMENTS = 1_000;
export const KEPT_DOCUMENT_CHARS = 10_000;

/** graphql-armor's mask in Apollo Server, so that a refusal reads the same over a socket as over HTTP. */
const SUGGESTION = /Did you mean ".+"/g;

/**
 * graphql-ws's `onSubscribe`: an operation sent over the socket is parsed and validated by the rules
 * a GraphQL POST is held to (the token, depth, alias, directive and cost limits, no introspection
 * where it is off) and refused the same way, with `GRAPHQL_PARSE_FAILED` or
 * `GRAPHQL_VALIDATION_FAILED` and the rule's message. graphql-ws's own parsing and validation know
 * none of these limits, and its refusals carried no code. A document sent again is not parsed again:
 * the same text is the same document, which lets subscriptions that ask the same share their results
 * (`SharedSubscriptions`).
 */
export function socketOperations(rules: SocketOperationRules) {
  const validation = [...specifiedRules, ...rules.validationRules];
  const kept = new Map<string, DocumentNode>();
  return (_context: unknown, _id: string, payload: SubscribePayload): ExecutionArgs | GraphQLError[] => {
    const schema = rules.schema();
    const known = kept.get(payload.query);
    if (known) return { schema, document: known, operationName: payload.operationName, variableValues: payload.variables };
    let document: DocumentNode;
    try {
      document = parse(payload.query, { maxTokens: rules.maxTokens });
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      return [refusal(error, 'GRAPHQL_PARSE_FAILED', error.message)];
    }
    const problems = validate(schema, document, validation);
    if (problems.length > 0) {
      return problems.map((problem) =>
        refusal(problem, 'GRAPHQL_VALIDATION_FAILED', rules.suggestions ? problem.message : problem.message.replace(SUGGESTION, '[Suggestion hidden]').trim()),
      );
    }
    if (payload.query.length <= KEPT_DOCUMENT_CHARS) {
      if (kept.size >= KEPT_DOCUMENTS) kept.delete(kept.keys().next().value!);
      kept.set(payload.query, document);
    }
    return { schema, document, operationName: payload.operationName, variableValues: payload.variables };
  };
}

function refusal(error: GraphQLError, code: string, message: string): GraphQLError {
  return new GraphQLError(message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { ...error.extensions, code } });
}
