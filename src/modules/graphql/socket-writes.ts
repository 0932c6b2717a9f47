import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

type Callback = (error?: Error | null) => void;

/** A write acknowledged at once: a failure closes the socket, which ends its subscriptions. */
const ignored: Callback = () => undefined;

/** Below this many bytes waiting to be written, a send is acknowledged without waiting for its write. */
export const EARLY_ACK_BYTES = 64 * 1024;

/** Whether a send to `socket` is acknowledged at once (see EARLY_ACK_BYTES), or by its write. */
function acknowledgedAtOnce(socket: { readonly bufferedAmount: number }): boolean {
  return socket.bufferedAmount < EARLY_ACK_BYTES;
}

/** Writes a socket's text messages given as UTF-8 parts, in order with the socket's other sends. */
export interface TextWriter {
  /**
   * Writes the parts, joined, as one text message. Undefined when the message is acknowledged at once
   * (less than `EARLY_ACK_BYTES` wait to be written); else a promise of its write, rejected if it fails.
   */
  writeText(parts: readonly Buffer[]): Promise<void> | undefined;
}

/** The frame writers `coalesceWrites` made, by socket. */
const textWriters = new WeakMap<WebSocket, TextWriter>();

/** The socket's text writer: coalesceWrites' own, which frames the message itself, or one that gives it to ws. */
export function textWriterOf(socket: WebSocket): TextWriter {
  return textWriters.get(socket) ?? { writeText: (parts) => sendText(socket, parts) };
}

function sendText(socket: WebSocket, parts: readonly Buffer[]): Promise<void> | undefined {
  return acknowledged(socket, (callback) => socket.send(Buffer.concat(parts), { binary: false }, callback));
}

/** Writes at once and acknowledges now while the socket's backlog is small; past it, by the write. */
function acknowledged(socket: WebSocket, write: (callback: Callback) => void): Promise<void> | undefined {
  if (acknowledgedAtOnce(socket)) return void write(ignored);
  return new Promise((resolve, reject) => write((error) => (error ? reject(error) : resolve())));
}

/** An unmasked, final WebSocket text frame holding the parts, joined (RFC 6455, 5.2): what a server sends. */
export function textFrame(parts: readonly Buffer[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN, opcode 1 (text)
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  let offset = header;
  for (const part of parts) offset += part.copy(frame, offset);
  return frame;
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
 * the socket, which ends its subscriptions. The socket's text writer (`textWriterOf`) takes its turn
 * with the sends, under the same rules.
 */
export function coalesceWrites(socket: WebSocket): void {
  // ws keeps the TCP socket private; without it (a socket not yet or no longer open), sends go as they are.
  const connection = (socket as unknown as { _socket?: Socket })._socket;
  if (!connection) return;
  const send = socket.send.bind(socket) as (data: unknown, options: object, callback?: Callback) => void;
  // Within a turn of the event loop: the first message is written at once, the others corked until the turn's I/O is done.
  let turn: 'idle' | 'written' | 'corked' = 'idle';
  const writing = () => {
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
  };
  /** Writes with the caller's callback, or acknowledges the caller at once (see EARLY_ACK_BYTES). */
  const sendAcknowledged = (done: Callback | undefined, write: (callback?: Callback) => void) => {
    if (!done) return write();
    const written = acknowledged(socket, write);
    if (written) void written.then(() => done(), done);
    else process.nextTick(done);
  };
  socket.send = ((data: unknown, optionsOrCallback?: object | Callback, callback?: Callback) => {
    const options = typeof optionsOrCallback === 'function' ? {} : (optionsOrCallback ?? {});
    const done = typeof optionsOrCallback === 'function' ? (optionsOrCallback as Callback) : callback;
    writing();
    sendAcknowledged(done, (written) => send(data, options, written));
  }) as WebSocket['send'];
  // ws frames each message it sends, copying it into a buffer of its own; a message written to many
  // sockets is framed here, with one copy and one write. Only on an open socket without extensions: a
  // compressing ws queues messages while it deflates, and these would overtake them.
  const plain = socket.extensions === ''; // negotiated in the handshake, before the socket opened
  textWriters.set(socket, {
    writeText: (parts) => {
      if (socket.readyState !== socket.OPEN || !plain) return sendText(socket, parts);
      writing();
      const frame = textFrame(parts);
      return acknowledged(socket, (written) => connection.write(frame, written));
    },
  });
}
