import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { benchOptions, type BenchOptions } from './args.js';
import { startCluster, type Cluster } from './cluster.js';
import { printProfile, summarizeProfile, type ProfileSummary } from './cpu-profile.js';
import { note, printTable, writeResult, type Figure } from './report.js';
import { TrailmapServer, type ServerOptions } from './server.js';
import { distBuiltAt, gitState, load } from './system.js';
import { ROOT, trailmap, type Logger } from './trailmap.js';

export interface Bench {
  name: string;
  options: BenchOptions;
  logger: Logger;
  cluster: Cluster;
  /** Starts `node dist/main.js` on the cluster (stopped by the harness at the end if still running). */
  /** `projections: 'separate'` starts a second process that runs the projections, and returns the API-only one. */
  startServer(options?: Partial<Omit<ServerOptions, 'projections'>> & { projections?: 'on' | 'off' | 'worker' | 'separate' }): Promise<TrailmapServer>;
  /** Stops a server; with --cpu-prof, summarizes its CPU profile into the results. */
  stopServer(server: TrailmapServer, label?: string): Promise<void>;
}

export interface Outcome {
  title: string;
  figures: Figure[];
  details: Record<string, unknown>;
  options: Record<string, unknown>;
}

/** Environment of every server under test: the scheduler's wall-clock scans stay out of the measurements. */
const SERVER_ENV = { TRAILMAP_SCHEDULER_INTERVAL: '24h' };

/** One benchmark: a fresh PostgreSQL, the work, the table on stdout and the JSON under bench/results. */
export async function runBenchmark(name: string, argv: string[], work: (bench: Bench) => Promise<Outcome>, cluster?: Cluster): Promise<Outcome> {
  const options = benchOptions(argv);
  const startedAt = new Date().toISOString();
  const loadBefore = load();
  // The code under test is what dist/ holds when the server starts; others may rebuild it meanwhile.
  const codeAtStart = { git: gitState(), distBuiltAt: distBuiltAt() };
  const { createLogger } = await trailmap.logger();
  const logger = createLogger('warn', false);
  note(`${name}: starting (load ${loadBefore.text})`);
  const ownCluster = !cluster;
  cluster ??= await startCluster(name, { dataDir: options.values['data-dir'], keep: options.values.keep, statements: options.values.statements, logger });
  const servers = new Set<TrailmapServer>();
  const profiles: (ProfileSummary & { label: string })[] = [];
  const bench: Bench = {
    name,
    options,
    logger,
    cluster,
    async startServer(serverOptions = {}) {
      const start = async (projections: 'on' | 'off' | 'worker', env: Record<string, string> = {}) => {
        const server = await TrailmapServer.start({
          databaseUrl: cluster!.url,
          folder: path.join(cluster!.folder, 'server'),
          cpuProfile: options.values['cpu-prof'],
          ...serverOptions,
          projections,
          env: { ...SERVER_ENV, ...serverOptions.env, ...env },
        });
        servers.add(server);
        return server;
      };
      if (serverOptions.projections !== 'separate') return start(serverOptions.projections ?? 'worker');
      // Two processes on the same database and keys: the projections run in one, the API (measured) in the other.
      const keys = { TRAILMAP_MASTER_KEY: randomBytes(32).toString('base64'), TRAILMAP_PSEUDONYM_KEY: randomBytes(32).toString('base64') };
      await start('on', keys);
      return start('off', keys);
    },
    async stopServer(server, label = 'server') {
      servers.delete(server);
      for (const { thread, file } of await server.stop()) {
        const part = `${label}${thread === 0 ? '' : ` projections thread ${thread}`}`;
        // Kept beside the results (PostgreSQL's scratch folder, where it was written, goes away).
        const profile = path.join(ROOT, 'bench', '.data', 'profiles', `${name}-${part.replace(/\W+/g, '-')}-${Date.now()}.cpuprofile`);
        await fs.mkdir(path.dirname(profile), { recursive: true });
        await fs.copyFile(file, profile);
        const summary = await summarizeProfile(profile);
        profiles.push({ label: part, ...summary });
        process.stdout.write(`\n[${part}] `);
        printProfile(summary);
      }
    },
  };
  const interrupted = () => {
    note('interrupted: stopping the server and PostgreSQL');
    void Promise.all([...servers].map((server) => server.stop())).finally(() => cluster!.stop().finally(() => process.exit(130)));
  };
  process.once('SIGINT', interrupted);
  try {
    const outcome = await work(bench);
    for (const server of [...servers]) await bench.stopServer(server);
    printTable(outcome.title, outcome.figures);
    const file = await writeResult({
      benchmark: name,
      startedAt,
      loadBefore,
      postgres: cluster.settings,
      options: outcome.options,
      figures: outcome.figures,
      details: { title: outcome.title, codeAtStart, ...outcome.details, ...(profiles.length > 0 && { cpuProfiles: profiles }) },
    });
    process.stdout.write(`results: ${path.relative(process.cwd(), file)}  (load before ${loadBefore.text}, after ${load().text})\n`);
    return outcome;
  } finally {
    process.removeListener('SIGINT', interrupted);
    for (const server of servers) await server.stop().catch(() => undefined);
    if (ownCluster) await cluster.stop();
  }
}

/** Rounds for the results file. */
export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
