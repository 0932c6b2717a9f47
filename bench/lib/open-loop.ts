import net from 'node:net';
import { monotonicMs, sleep, summarize, type LatencySummary } from './stats.js';

export interface OpenLoopOptions {
  url: string;
  path: string;
  headers: Record<string, string>;
  /** The body of the i-th request (serialized before its due time, outside the measured span). */
  body: (index: number) => string;
  rate: number;
  seconds: number;
  /** Connections kept open at most; a request due while all are busy waits for one (its latency counts the wait). */
  maxConnections?: number;
}

export interface OpenLoopResult {
  requests: number;
  errors: number;
  achievedRate: number;
  /** From when each request was due: a stall of the server (or of this generator) is not hidden. */
  latency: LatencySummary;
  /** From when each request was written to its connection. */
  serviceLatency: LatencySummary;
  connections: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const ERRORS = Buffer.from('"errors"');

/**
 * An open-loop HTTP/1.1 load generator in the manner of wrk2: request i is due at start + i/rate
 * whatever happened before, its latency runs from that moment. Lean on purpose — requests are
 * written as prepared bytes on keep-alive connections and responses are framed by Content-Length
 * without an HTTP parser per response — so that on a small machine the generator takes little of
 * the CPU that the server under test needs (node:http cost ~0.3 cores at 500 requests/s here).
 */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const target = new URL(options.url);
  const head = `POST ${options.path} HTTP/1.1\r\nhost: ${target.host}\r\nconnection: keep-alive\r\n${Object.entries(options.headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}`;
  const total = Math.round(options.rate * options.seconds);
  const latencies: number[] = [];
  const service: number[] = [];
  let errors = 0;
  const idle: Connection[] = [];
  const waiting: (() => void)[] = [];
  let opened = 0;
  const maxConnections = options.maxConnections ?? 256;
  const connections: Connection[] = [];

  const acquire = async (): Promise<Connection> => {
    // The server closes connections left idle past its keep-alive timeout: those are skipped.
    for (let free = idle.pop(); free; free = idle.pop()) {
      if (free.open) return free;
      opened -= 1;
    }
    if (opened < maxConnections) {
      opened += 1;
      const connection = await Connection.open(target.hostname, Number(target.port));
      connections.push(connection);
      return connection;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
    return acquire();
  };
  const release = (connection: Connection) => {
    idle.push(connection);
    waiting.shift()?.();
  };

  const started = monotonicMs();
  const pending: Promise<void>[] = [];
  for (let index = 0; index < total; index++) {
    const body = options.body(index);
    const request = Buffer.from(`${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const due = started + (index * 1000) / options.rate;
    const wait = due - monotonicMs();
    if (wait > 1) await sleep(wait);
    pending.push(
      (async () => {
        let sent = 0;
        let response: { status: number; body: Buffer } | undefined;
        // A connection the server closed as this request went out (idle past its keep-alive timeout) is not
        // the server failing the request: it is sent again once, on another connection.
        for (let attempt = 0; attempt < 2 && !response; attempt++) {
          const connection = await acquire();
          sent = monotonicMs();
          response = await connection.exchange(request).catch(() => undefined);
          if (response) release(connection);
          else {
            opened -= 1;
            waiting.shift()?.();
          }
        }
        const done = monotonicMs();
        latencies.push(done - due);
        service.push(done - sent);
        if (!response || response.status !== 200 || response.body.includes(ERRORS)) errors += 1;
      })(),
    );
  }
  await Promise.all(pending);
  const elapsed = (monotonicMs() - started) / 1000;
  for (const connection of connections) connection.close();
  return { requests: total, errors, achievedRate: total / elapsed, latency: summarize(latencies), serviceLatency: summarize(service), connections: opened };
}

/** One keep-alive connection, one request in flight. */
class Connection {
  private received: Buffer = Buffer.alloc(0);
  open = true;
  private current?: { resolve: (response: { status: number; body: Buffer }) => void; reject: (error: Error) => void };

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => {
      this.open = false;
      this.fail(new Error('connection closed'));
    });
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true }, () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  exchange(request: Buffer): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      if (!this.open) return reject(new Error('connection closed'));
      this.current = { resolve, reject };
      this.socket.write(request, (error) => error && this.fail(error));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const headerEnd = this.received.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const header = this.received.toString('latin1', 0, headerEnd);
    const length = /\r\ncontent-length: *(\d+)/i.exec(header);
    if (!length) return this.fail(new Error(`a response without Content-Length: ${header.split('\r\n')[0]}`));
    const end = headerEnd + HEADER_END.length + Number(length[1]);
    if (this.received.length < end) return;
    const status = Number(header.slice(9, 12));
    const body = this.received.subarray(headerEnd + HEADER_END.length, end);
    this.received = this.received.subarray(end);
    const current = this.current;
    this.current = undefined;
    current?.resolve({ status, body });
  }

  private fail(error: Error): void {
    const current = this.current;
    this.current = undefined;
    current?.reject(error);
  }
}
