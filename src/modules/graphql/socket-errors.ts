import type { WebSocket } from 'ws';
import type { Logger } from '../logging/logger.js';

/**
 * A graphql-ws socket's errors go to Trailmap's log, as a warning, instead of graphql-ws's
 * `console.error("Internal error emitted on a WebSocket socket…")`: they are the client's doing or
 * the network's (a message over the size limit, a connection reset), and ws has already closed the
 * socket (1009 for an oversized message), which ends its subscriptions.
 */
export function logSocketErrors(socket: WebSocket, logger: Logger): void {
  const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
  socket.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event !== 'error') return emit(event, ...args);
    const error = args[0] as Error & { code?: string };
    logger.warn({ code: error.code, reason: error.message }, 'a GraphQL socket failed and was closed');
    return true;
  }) as WebSocket['emit'];
}
