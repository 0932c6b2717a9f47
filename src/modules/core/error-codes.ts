import { Conflict, Forbidden, NotFound, Unauthenticated, Unavailable, ValidationFailed, type Problem } from '../../domain/errors.js';
import { ConcurrencyConflict, EventIdConflict } from '../event-store/event-store.port.js';

/** How a failure reaches a caller, the same on every door: GraphQL code, HTTP status, message. */
export interface ErrorDescription {
  code: 'BAD_USER_INPUT' | 'CONFLICT' | 'NOT_FOUND' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'UNAVAILABLE' | 'INTERNAL_SERVER_ERROR';
  status: number;
  message: string;
  problems?: Problem[];
  /** False for failures the caller did not cause: they are logged with their stack. */
  expected: boolean;
}

/** PostgreSQL and network failures that pass when the database is back: the request may be retried. */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '53300']);

export function describeError(error: unknown): ErrorDescription {
  if (error instanceof ValidationFailed) return { code: 'BAD_USER_INPUT', status: 400, message: error.message, problems: error.problems, expected: true };
  if (error instanceof Conflict) return { code: 'CONFLICT', status: 409, message: error.message, problems: error.problems, expected: true };
  if (error instanceof ConcurrencyConflict || error instanceof EventIdConflict) return { code: 'CONFLICT', status: 409, message: error.message, expected: true };
  if (error instanceof NotFound) return { code: 'NOT_FOUND', status: 404, message: error.message, expected: true };
  if (error instanceof Unauthenticated) return { code: 'UNAUTHENTICATED', status: 401, message: error.message, expected: true };
  if (error instanceof Forbidden) return { code: 'FORBIDDEN', status: 403, message: error.message, expected: true };
  const code = (error as { code?: string } | undefined)?.code;
  // PostgreSQL's text cannot hold a NUL character (22021, 22P05): only a caller's value (an id, a search) brings one.
  if (code === '22021' || code === '22P05') {
    return { code: 'BAD_USER_INPUT', status: 400, message: 'A value in the request holds a character that cannot be stored or searched for (NUL).', expected: true };
  }
  // Connecting failed whatever the reason (refused on TCP, no socket file while the server is down): it passes when the database is back.
  const cannotConnect = (error as { syscall?: string } | undefined)?.syscall === 'connect';
  const connectionLost = error instanceof Error && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(error.message);
  if (error instanceof Unavailable || (code !== undefined && UNAVAILABLE_CODES.has(code)) || cannotConnect || connectionLost) {
    return { code: 'UNAVAILABLE', status: 503, message: 'The database is unavailable for now; retry the request.', expected: true };
  }
  return { code: 'INTERNAL_SERVER_ERROR', status: 500, message: 'Internal server error.', expected: false };
}
