import { note } from './lib/report.js';

/** `npm run bench -- <name> [options]`: one benchmark, or `all` of them in sequence. */
const benchmarks: Record<string, () => Promise<{ run: (argv: string[]) => Promise<unknown>; description: string }>> = {
  ingest: async () => {
    const module = await import('./ingest.js');
    return { run: module.ingest, description: module.description };
  },
  single: async () => {
    const module = await import('./single.js');
    return { run: module.single, description: module.description };
  },
  rebuild: async () => {
    const module = await import('./rebuild.js');
    return { run: module.rebuild, description: module.description };
  },
  'profile-query': async () => {
    const module = await import('./profile-query.js');
    return { run: module.profileQuery, description: module.description };
  },
  fanout: async () => {
    const module = await import('./fanout.js');
    return { run: module.fanout, description: module.description };
  },
  scale: async () => {
    const module = await import('./scale.js');
    return { run: module.scale, description: module.description };
  },
  folds: async () => {
    const module = await import('./folds.js');
    return { run: module.folds, description: module.description };
  },
};

const usage = async () => `Usage: npm run bench -- <name|all|report> [options]

Benchmarks:
${(await Promise.all(Object.entries(benchmarks).map(async ([name, load]) => `  ${name.padEnd(15)} ${(await load()).description}`))).join('\n')}
  all             every benchmark in sequence (options apply to each)
  report          rewrite docs/benchmarks.md's results and chart from the newest results

See bench/README.md for what each measures, its options and how long it takes.
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === 'help') {
    process.stdout.write(await usage());
    return name ? 0 : 2;
  }
  if (name === 'report') {
    const { updateDocsPage } = await import('./lib/docs.js');
    process.stdout.write(`wrote ${await updateDocsPage()}\n`);
    return 0;
  }
  // `all` runs the figures of issue 8; `folds` is a diagnostic without a database.
  const names = name === 'all' ? Object.keys(benchmarks).filter((benchmark) => benchmark !== 'folds') : [name];
  for (const benchmark of names) {
    const load = benchmarks[benchmark];
    if (!load) {
      process.stderr.write(`Unknown benchmark: ${benchmark}\n\n${await usage()}`);
      return 2;
    }
    const { run } = await load();
    await run(rest);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    note(`failed: ${(error as Error)?.stack ?? String(error)}`);
    process.exit(1);
  },
);
