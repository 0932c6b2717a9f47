import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

type Callback = (error?: Error) => void;

/** Below this many bytes waiting to be written, a send is acknowledged without waiting for its write. */
export const EARLY_ACK_BYTES = 64 * 1024;

/** Whether a send to `socket` is acknowledged at once (see EARLY_ACK_BYTES), or by its write. */
export function acknowledgedAtOnce(socket: { readonly bufferedAmount: number }): boolean {
  return socket.bufferedAmount < EARLY_ACK_BYTES;
}

/**
 * Coalesces a graphql-ws socket's messages into one write per turn of the event loop.
 *
 * graphql-ws sends a subscription's messages one at a time, each once the write of the one before it
 * has completed, and ws writes each as a system call of its own: under a fan-out, one `writev` per
 * message per subscriber was 40 % of the request loop. Here the first message of a turn is written
 * at once (a lone message waits for nothing), the ones after it are corked until the turn's I/O is
 * done (`setImmediate`), and a send is acknowledged at once while less than `EARLY_ACK_BYTES` wait to
 * be written, so that the messages after the first go out together. Past that,
 * sends are acknowledged by their writes again: a client that stops reading still holds back its
 * subscriptions, whose bounded buffers then end them (`SubscriberBuffer`). A write that fails closes
 * the socket, which ends its subscriptions.
 */
export function coalesceWrites(socket: WebSocket): void {
  // ws keeps the TCP socket private; without it (a socket not yet or no longer open), sends go as they are.
  const connection = (socket as unknown as { _socket?: Socket })._socket;
  if (!connection) return;
  const send = socket.send.bind(socket) as (data: unknown, options: object, callback?: Callback) => void;
  // Within a turn of the event loop: the first message is written at once, the others corked until the turn's I/O is done.
  let turn: 'idle' | 'written' | 'corked' = 'idle';
  socket.send = ((data: unknown, optionsOrCallback?: object | Callback, callback?: Callback) => {
    const options = typeof optionsOrCallback === 'function' ? {} : (optionsOrCallback ?? {});
    const done = typeof optionsOrCallback === 'function' ? (optionsOrCallback as Callback) : callback;
    if (turn === 'idle') {
      turn = 'written';
      setImmediate(() => {
        if (turn === 'corked') connection.uncork();
        turn = 'idle';
      });
    } else if (turn === 'written' && !connection.destroyed) {
      turn = 'corked';
      connection.cork();
    }
    if (done && acknowledgedAtOnce(socket)) {
      send(data, options, () => undefined);
      process.nextTick(done);
    } else {
      send(data, options, done);
    }
  }) as WebSocket['send'];
}
