import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { coalesceWrites, EARLY_ACK_BYTES, textWriterOf } from './socket-writes.js';

/** A server socket with coalesced writes, its client, and the TCP writes the server made. */
async function connectedPair({ coalesced = true } = {}) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const received: string[] = [];
  const binary: boolean[] = [];
  client.on('message', (data, isBinary) => {
    received.push(String(data));
    binary.push(isBinary);
  });
  await new Promise((resolve) => client.once('open', resolve));
  const socket = await accepted;
  const connection = (socket as unknown as { _socket: Socket })._socket;
  const writes: number[] = [];
  for (const method of ['_write', '_writev'] as const) {
    const original = connection[method]!.bind(connection) as (...args: unknown[]) => void;
    (connection as unknown as Record<string, unknown>)[method] = (chunks: unknown, ...rest: unknown[]) => {
      writes.push(Array.isArray(chunks) ? chunks.length : 1);
      original(chunks, ...rest);
    };
  }
  if (coalesced) coalesceWrites(socket);
  const close = async () => {
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
  };
  return { socket, client, received, binary, writes, close };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const sent = (socket: WebSocket, message: string) => new Promise<void>((resolve, reject) => socket.send(message, (error) => (error ? reject(error) : resolve())));
const written = async (socket: WebSocket, message: string) => textWriterOf(socket).writeText([Buffer.from(message)]);
const arrived = async (received: string[], count: number) => {
  for (const deadline = Date.now() + 10_000; received.length < count && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('coalesceWrites', () => {
  it('writes the first message of a turn at once and the rest of the turn together, acknowledging each before its write', async () => {
    const { socket, received, writes, close } = await connectedPair();
    try {
      // As graphql-ws does: each send once the one before it is acknowledged.
      for (let index = 0; index < 10; index += 1) await sent(socket, `message ${index}`);
      expect(writes).toEqual([2]);
      await nextTurn();
      expect(writes).toEqual([2, 18]);
      await sent(socket, 'a later turn');
      expect(writes).toEqual([2, 18, 2]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(received).toEqual([...Array.from({ length: 10 }, (_, index) => `message ${index}`), 'a later turn']);
    } finally {
      await close();
    }
  });

  it("ends the turn of every socket written to in it: each one's first message at once, the rest together", async () => {
    const pairs = [await connectedPair(), await connectedPair()];
    try {
      for (const { socket } of pairs) for (const message of ['a', 'b', 'c']) socket.send(message);
      for (const { writes } of pairs) expect(writes).toEqual([2]);
      await nextTurn();
      for (const { writes } of pairs) expect(writes).toEqual([2, 4]);
      pairs[1]!.socket.send('next turn');
      expect(pairs.map(({ writes }) => writes)).toEqual([[2, 4], [2, 4, 2]]);
      await arrived(pairs[0]!.received, 3);
      await arrived(pairs[1]!.received, 4);
      expect(pairs.map(({ received }) => received)).toEqual([
        ['a', 'b', 'c'],
        ['a', 'b', 'c', 'next turn'],
      ]);
    } finally {
      for (const { close } of pairs) await close();
    }
  });

  it.each([
    ['send', sent],
    ['text writer', written],
  ])('acknowledges a message (%s) by its write once the socket holds more than EARLY_ACK_BYTES unwritten', async (_way, sent) => {
    const { socket, client, close } = await connectedPair();
    try {
      client.pause(); // the client stops reading: the server's writes back up
      const big = 'x'.repeat(256 * 1024);
      const acknowledged: number[] = [];
      for (let index = 0; index < 64; index += 1) {
        const ack = sent(socket, big).then(() => acknowledged.push(index));
        await Promise.race([ack, new Promise((resolve) => setTimeout(resolve, 20))]);
        if (acknowledged.length <= index) break;
      }
      expect(socket.bufferedAmount).toBeGreaterThan(EARLY_ACK_BYTES);
      const waiting = acknowledged.length;
      expect(waiting).toBeLessThan(64);
      client.resume();
      // The held send is acknowledged once its write is done: megabytes to drain, however busy the machine.
      for (const deadline = Date.now() + 10_000; acknowledged.length === waiting && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(acknowledged.length).toBe(waiting + 1);
    } finally {
      await close();
    }
  });

  it("writes the text writer's messages as ws's text frames, in turn with the sends, whatever their length", async () => {
    const { socket, received, binary, writes, close } = await connectedPair();
    try {
      const writer = textWriterOf(socket);
      // Bytes at the edges of the three length encodings, in two parts; and characters of two bytes.
      const texts = [0, 125, 126, 65_535, 65_536, 300_000].map((length) => 'x'.repeat(length)).concat('é'.repeat(200));
      socket.send('first');
      for (const text of texts) writer.writeText([Buffer.from(text.slice(0, 100)), Buffer.from(text.slice(100))]);
      socket.send('last');
      expect(writes).toEqual([2]); // the first message at once, the rest of the turn corked
      await arrived(received, texts.length + 2);
      expect(received).toEqual(['first', ...texts, 'last']);
      expect(binary.every((isBinary) => !isBinary)).toBe(true);
      // One write of the turn: a chunk for each framed text, ws's header and message for the last.
      expect(writes).toEqual([2, texts.length + 2]);
    } finally {
      await close();
    }
  });

  it('gives the text to ws on a socket that is closing, which writes nothing after its close frame', async () => {
    const { socket, client, received, writes, close } = await connectedPair();
    try {
      const closed = new Promise<number>((resolve) => client.once('close', resolve));
      socket.close(1000, 'bye');
      const closeFrame = [...writes];
      expect(closeFrame).toHaveLength(1);
      await written(socket, 'too late'); // acknowledged, as graphql-ws's sends are
      await nextTurn();
      expect(writes).toEqual(closeFrame);
      expect(await closed).toBe(1000);
      expect(received).toEqual([]);
    } finally {
      await close();
    }
  });

  it('gives the text to ws as a text message on a socket whose writes are not coalesced', async () => {
    const { socket, received, binary, close } = await connectedPair({ coalesced: false });
    try {
      await written(socket, 'plain');
      await arrived(received, 1);
      expect(received).toEqual(['plain']);
      expect(binary).toEqual([false]);
    } finally {
      await close();
    }
  });
});
