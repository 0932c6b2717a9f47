import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { Principal } from '../auth/api-keys.js';
import type { AccessLog } from './access-log.js';

/** What a request read of personal data, and what it was refused, noted by resolvers as they go. */
export interface PersonalDataNotes {
  principal?: Principal;
  personalReads?: Map<string, Set<string>>;
  redactions?: { path: readonly (string | number)[]; message: string }[];
}

/** A resolver handed out personal data of a customer. */
export function notePersonalRead(context: PersonalDataNotes, customerId: string, field: string): void {
  context.personalReads ??= new Map();
  const fields = context.personalReads.get(customerId) ?? new Set<string>();
  fields.add(field);
  context.personalReads.set(customerId, fields);
}

/** A resolver left personal data out of a field that cannot be null: the response says so, FORBIDDEN. */
export function noteRedaction(context: PersonalDataNotes, path: readonly (string | number)[], message: string): void {
  context.redactions ??= [];
  context.redactions.push({ path, message });
}

/** Writes what a request read to the access log, once per request; clears the notes (a socket's context lives on). */
export async function flushPersonalReads(context: PersonalDataNotes, accessLog: AccessLog, operation: string): Promise<void> {
  const reads = context.personalReads;
  if (!reads || reads.size === 0 || !context.principal) return;
  context.personalReads = new Map();
  const keyId = context.principal.keyId;
  await accessLog.record([...reads].map(([customerId, fields]) => ({ keyId, customerId, fields: [...fields].sort(), operation })));
}

/** After each GraphQL request: the access log written, and the redactions reported as FORBIDDEN errors. */
export function personalDataPlugin(accessLog: AccessLog): ApolloServerPlugin<PersonalDataNotes> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response, operationName }) {
          await flushPersonalReads(contextValue, accessLog, operationName ?? 'anonymous operation');
          const redactions = contextValue.redactions ?? [];
          if (redactions.length === 0 || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          result.errors = [
            ...(result.errors ?? []),
            ...redactions.map(({ path, message }) => new GraphQLError(message, { path, extensions: { code: 'FORBIDDEN' } }).toJSON()),
          ];
        },
      };
    },
  };
}
