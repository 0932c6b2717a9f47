import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

/** A Trailmap server as users run it: the built `dist/main.js` in its own process. */
export class ServerProcess {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  private constructor(readonly child: ChildProcess) {
    const collect = (chunk: Buffer) => this.output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(environment: Record<string, string>, script = 'dist/main.js', args: string[] = []): ServerProcess {
    const child = spawn(process.execPath, [path.join(root, script), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, PORT: '0', LOG_LEVEL: 'info', ...environment },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServerProcess(child);
  }

  /** Resolves with the GraphQL URL from the start-up banner; rejects if the process exits first. */
  async ready(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const banner = this.output.map(parseLine).find((line) => typeof line?.graphql === 'string');
      if (banner) return banner.graphql as string;
      if (this.child.exitCode !== null) throw new Error(`server exited with ${this.child.exitCode}:\n${this.output.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`server not ready after ${timeoutMs} ms:\n${this.output.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export async function temporaryFolder(prefix = 'trailmap-data-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}
