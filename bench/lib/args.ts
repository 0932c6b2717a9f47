import { parseArgs } from 'node:util';

/** `50000`, `50_000`, `50k` or `1m`. */
function parseCount(name: string, text: string): number {
  const cleaned = text.trim().replace(/_/g, '').toLowerCase();
  const value = cleaned.endsWith('k') ? Number(cleaned.slice(0, -1)) * 1e3 : cleaned.endsWith('m') ? Number(cleaned.slice(0, -1)) * 1e6 : Number(cleaned);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} takes a positive number (50000, 50k, 1m), not ${JSON.stringify(text)}`);
  return value;
}

/** The options every benchmark understands; each reads the ones it uses. */
export function benchOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      events: { type: 'string' },
      runs: { type: 'string' },
      duration: { type: 'string' },
      concurrency: { type: 'string' },
      subscriptions: { type: 'string' },
      workers: { type: 'string' },
      customers: { type: 'string' },
      rate: { type: 'string' },
      mode: { type: 'string' },
      sizes: { type: 'string' },
      phase: { type: 'string' },
      huge: { type: 'boolean', default: false },
      projections: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      statements: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  type Name = keyof typeof values;
  return {
    values,
    number: (name: Name, fallback: number): number => (values[name] === undefined ? fallback : parseCount(name, String(values[name]))),
    list: (name: Name, fallback: number[]): number[] => (values[name] === undefined ? fallback : String(values[name]).split(',').map((part) => parseCount(name, part))),
    text: <T extends string>(name: Name, fallback: T, allowed: readonly T[]): T => {
      const value = (values[name] ?? fallback) as T;
      if (!allowed.includes(value)) throw new Error(`--${name} takes ${allowed.join(' or ')}, not ${JSON.stringify(value)}`);
      return value;
    },
  };
}

export type BenchOptions = ReturnType<typeof benchOptions>;
