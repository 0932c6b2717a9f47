import fs from 'node:fs/promises';
import path from 'node:path';
import { load, machineInfo } from './system.js';
import { ROOT } from './trailmap.js';

export const RESULTS = path.join(ROOT, 'bench', 'results');

/** One line of a benchmark's table: Trailmap's figure beside its reference, and the target on their ratio (or on the figure). */
export interface Figure {
  figure: string;
  unit: string;
  trailmap: number;
  reference?: number;
  referenceName?: string;
  /** trailmap / reference, or reference / trailmap for figures where lower is better. */
  ratio?: number;
  target?: string;
  pass?: boolean;
}

export function ratioFigure(figure: string, unit: string, trailmap: number, reference: number, referenceName: string, least?: number): Figure {
  const ratio = trailmap / reference;
  return {
    figure,
    unit,
    trailmap,
    reference,
    referenceName,
    ratio,
    ...(least !== undefined && { target: `≥ ${least} ×`, pass: ratio >= least }),
  };
}

export function formatNumber(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '–';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** The compact table: figure, Trailmap value, reference value, ratio, target, pass/fail. */
export function printTable(title: string, figures: Figure[], out = process.stdout): void {
  const rows = [
    ['figure', 'Trailmap', 'reference', 'ratio', 'target', ''],
    ...figures.map((figure) => [
      `${figure.figure} (${figure.unit})`,
      formatNumber(figure.trailmap),
      figure.reference === undefined ? '' : `${formatNumber(figure.reference)}${figure.referenceName ? ` ${figure.referenceName}` : ''}`,
      figure.ratio === undefined ? '' : `${figure.ratio.toFixed(2)} ×`,
      figure.target ?? '',
      figure.pass === undefined ? '' : figure.pass ? 'PASS' : 'FAIL',
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, column) => (column === 0 || column === 2 || column === 4 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  out.write(`\n${title}\n${line(rows[0]!)}\n${widths.map((width) => '─'.repeat(width)).join('  ')}\n${rows.slice(1).map(line).join('\n')}\n\n`);
}

export interface ResultFile {
  benchmark: string;
  startedAt: string;
  finishedAt: string;
  machine: ReturnType<typeof machineInfo>;
  loadBefore: ReturnType<typeof load>;
  loadAfter: ReturnType<typeof load>;
  postgres: Record<string, string>;
  options: Record<string, unknown>;
  figures: Figure[];
  details: Record<string, unknown>;
}

export async function writeResult(result: Omit<ResultFile, 'machine' | 'loadAfter' | 'finishedAt'>): Promise<string> {
  const file: ResultFile = { ...result, finishedAt: new Date().toISOString(), machine: machineInfo(), loadAfter: load() };
  await fs.mkdir(RESULTS, { recursive: true });
  const name = path.join(RESULTS, `${result.benchmark}-${file.startedAt.replace(/[:.]/g, '-')}.json`);
  await fs.writeFile(`${name}.tmp`, `${JSON.stringify(file, null, 2)}\n`);
  await fs.rename(`${name}.tmp`, name);
  return name;
}

/**
 * The newest result of each distinct set of options of a benchmark, among those of the last `hours`
 * before its newest and measured on the same code (commit and uncommitted source files) as it.
 */
export async function latestResults(benchmark: string, hours = 3): Promise<ResultFile[]> {
  const files = (await fs.readdir(RESULTS).catch(() => [] as string[])).filter((file) => file.startsWith(`${benchmark}-`) && /-\d{4}-\d{2}-\d{2}T[\d-]+Z\.json$/.test(file)).sort();
  const results = await Promise.all(files.map(async (file) => JSON.parse(await fs.readFile(path.join(RESULTS, file), 'utf8')) as ResultFile));
  const newest = results.at(-1);
  if (!newest) return [];
  const since = Date.parse(newest.startedAt) - hours * 3_600_000;
  const byOptions = new Map<string, ResultFile>();
  const code = (result: ResultFile) => JSON.stringify(result.machine.git);
  for (const result of results) {
    if (Date.parse(result.startedAt) >= since && code(result) === code(newest)) byOptions.set(JSON.stringify(result.options), result);
  }
  return [...byOptions.values()].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** The newest result of a benchmark, if any. */
export async function latestResult(benchmark: string): Promise<ResultFile | undefined> {
  const files = (await fs.readdir(RESULTS).catch(() => [] as string[])).filter((file) => file.startsWith(`${benchmark}-`) && file.endsWith('.json')).sort();
  const newest = files.at(-1);
  return newest ? (JSON.parse(await fs.readFile(path.join(RESULTS, newest), 'utf8')) as ResultFile) : undefined;
}

/** A progress line on stderr, so stdout keeps only the tables. */
export function note(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
