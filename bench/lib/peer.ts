import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './trailmap.js';
import { note } from './report.js';

/** The peer's folder: its own package (its peer dependency on uuid 10 cannot sit in Trailmap's tree beside uuid 11). */
const PEER = path.join(ROOT, 'bench', 'peer');

export interface EmmettEventStore {
  appendToStream(stream: string, events: { type: string; data: Record<string, unknown>; metadata?: Record<string, unknown> }[]): Promise<unknown>;
  close(): Promise<void>;
}

/** `getPostgreSQLEventStore` of @event-driven-io/emmett-postgresql, installed into bench/peer on first use. */
export async function emmettPostgreSQL(): Promise<{ getPostgreSQLEventStore(connectionString: string): EmmettEventStore }> {
  const entry = path.join(PEER, 'node_modules', '@event-driven-io', 'emmett-postgresql', 'dist', 'index.js');
  if (!existsSync(entry)) {
    note('installing the peer event store into bench/peer (npm ci)');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEER, stdio: 'inherit' });
  }
  return (await import(pathToFileURL(entry).href)) as { getPostgreSQLEventStore(connectionString: string): EmmettEventStore };
}
