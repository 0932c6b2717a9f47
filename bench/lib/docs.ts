import fs from 'node:fs/promises';
import path from 'node:path';
import { formatNumber, latestResults, RESULTS, type Figure, type ResultFile } from './report.js';
import { ROOT } from './trailmap.js';

const BENCHMARKS = ['ingest', 'single', 'rebuild', 'profile-query', 'fanout', 'scale'];
const CHART = path.join(RESULTS, 'ingest-concurrency.svg');

interface Point {
  concurrency: number;
  eventsPerSecond: number;
}

/** Throughput against concurrency, Trailmap beside the raw INSERT limit, as a plain SVG. */
export function ingestChart(trailmap: Point[], reference: Point[]): string {
  const width = 640;
  const height = 360;
  const margin = { left: 70, right: 160, top: 40, bottom: 50 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const concurrencies = [...new Set([...trailmap, ...reference].map((point) => point.concurrency))].sort((a, b) => a - b);
  const top = niceCeiling(Math.max(...[...trailmap, ...reference].map((point) => point.eventsPerSecond)));
  // Concurrency doubles: a log2 axis spaces 1, 2, 4, 8 evenly.
  const x = (concurrency: number) => margin.left + (concurrencies.length === 1 ? plotWidth / 2 : (Math.log2(concurrency) - Math.log2(concurrencies[0]!)) / (Math.log2(concurrencies.at(-1)!) - Math.log2(concurrencies[0]!)) * plotWidth);
  const y = (value: number) => margin.top + plotHeight - (value / top) * plotHeight;
  const line = (points: Point[], colour: string, label: string, index: number) => {
    const sorted = [...points].sort((a, b) => a.concurrency - b.concurrency);
    const path = sorted.map((point, i) => `${i === 0 ? 'M' : 'L'}${x(point.concurrency).toFixed(1)},${y(point.eventsPerSecond).toFixed(1)}`).join(' ');
    const dots = sorted
      .map(
        (point) =>
          `<circle cx="${x(point.concurrency).toFixed(1)}" cy="${y(point.eventsPerSecond).toFixed(1)}" r="4" fill="${colour}"><title>${label}, ${point.concurrency} clients: ${formatNumber(point.eventsPerSecond)} events/s</title></circle>` +
          `<text x="${x(point.concurrency).toFixed(1)}" y="${(y(point.eventsPerSecond) - 9).toFixed(1)}" font-size="10" text-anchor="middle" fill="${colour}">${formatNumber(point.eventsPerSecond)}</text>`,
      )
      .join('');
    const legendY = margin.top + 10 + index * 22;
    return `<path d="${path}" fill="none" stroke="${colour}" stroke-width="2.5"/>${dots}<rect x="${width - margin.right + 16}" y="${legendY - 8}" width="14" height="4" fill="${colour}"/><text x="${width - margin.right + 36}" y="${legendY}" font-size="12">${label}</text>`;
  };
  const ticks = Array.from({ length: 6 }, (_, index) => (top / 5) * index);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${margin.left}" y="22" font-size="14" font-weight="bold">Bulk ingest throughput against concurrency</text>
${ticks.map((tick) => `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e5e5e5"/><text x="${margin.left - 8}" y="${y(tick) + 4}" font-size="11" text-anchor="end">${Math.round(tick).toLocaleString('en-US')}</text>`).join('\n')}
${concurrencies.map((concurrency) => `<text x="${x(concurrency)}" y="${margin.top + plotHeight + 18}" font-size="11" text-anchor="middle">${concurrency}</text>`).join('\n')}
<text x="${margin.left + plotWidth / 2}" y="${height - 10}" font-size="12" text-anchor="middle">concurrent clients</text>
<text x="16" y="${margin.top + plotHeight / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${margin.top + plotHeight / 2})">events/s</text>
${line(reference, '#888888', 'raw INSERT ×500', 0)}
${line(trailmap, '#1f6feb', 'Trailmap /v1/batch', 1)}
</svg>
`;
}

function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(Math.max(value, 1)));
  return Math.ceil(value / magnitude) * magnitude;
}

function titleOf(result: ResultFile): string {
  return String(result.details.title ?? Object.entries(result.options).map(([key, value]) => `${key} ${JSON.stringify(value)}`).join(', '));
}

function table(figures: Figure[]): string {
  const rows = figures.map((figure) =>
    [
      `${figure.figure} (${figure.unit})`,
      formatNumber(figure.trailmap),
      figure.reference === undefined ? '' : `${formatNumber(figure.reference)}${figure.referenceName ? ` ${figure.referenceName}` : ''}`,
      figure.ratio === undefined ? '' : `${figure.ratio.toFixed(2)} ×`,
      figure.target ?? '',
      figure.pass === undefined ? '' : figure.pass ? '**pass**' : '**fail**',
    ].join(' | '),
  );
  return `| figure | Trailmap | reference | ratio | target | |\n| --- | ---: | ---: | ---: | --- | --- |\n${rows.map((row) => `| ${row} |`).join('\n')}\n`;
}

/** docs/benchmarks.md's generated part: the newest result of each benchmark, and the chart. */
export async function writeDocs(): Promise<string> {
  const results: ResultFile[] = (await Promise.all(BENCHMARKS.map((name) => latestResults(name)))).flat();
  const ingest = results.filter((result) => result.benchmark === 'ingest' && (result.details.chart as { trailmap: Point[] } | undefined)?.trailmap.length).sort((a, b) => (b.details.chart as { trailmap: Point[] }).trailmap.length - (a.details.chart as { trailmap: Point[] }).trailmap.length)[0];
  const chart = ingest?.details.chart as { trailmap: Point[]; reference: Point[] } | undefined;
  if (chart && chart.trailmap.length > 0) await fs.writeFile(CHART, ingestChart(chart.trailmap, chart.reference));
  const any = results[0];
  const sections = results.map((result) => {
    const title = `### ${result.benchmark} — ${titleOf(result)}`;
    const when = `${result.startedAt.slice(0, 16).replace('T', ' ')} UTC · load ${result.loadBefore.text} → ${result.loadAfter.text} · [results](../bench/results/${result.benchmark}-${result.startedAt.replace(/[:.]/g, '-')}.json)`;
    return `${title}\n\n${when}\n\n${table(result.figures)}`;
  });
  const machine = any
    ? `${any.machine.cpus} cores (${any.machine.cpuModel}), ${any.machine.memoryGiB} GiB, ${any.machine.platform}, Node ${any.machine.node}, ${any.postgres.version?.split(' on ')[0]} (embedded, fsync=${any.postgres.fsync}, synchronous_commit=${any.postgres.synchronous_commit}, shared_buffers=${any.postgres.shared_buffers}), Trailmap ${any.machine.git.commit}${any.machine.git.uncommittedSourceFiles > 0 ? ` with ${any.machine.git.uncommittedSourceFiles} uncommitted source files` : ''}`
    : 'no results yet';
  return `<!-- generated by \`npm run bench -- report\` from the newest bench/results; edit the text around it freely -->
**Machine:** ${machine}.

${chart ? `![Bulk ingest throughput against concurrency](../bench/results/ingest-concurrency.svg)\n\n` : ''}${sections.join('\n')}`;
}

/** Replaces the generated part of docs/benchmarks.md (between its markers), keeping the prose around it. */
export async function updateDocsPage(): Promise<string> {
  const page = path.join(ROOT, 'docs', 'benchmarks.md');
  const generated = await writeDocs();
  const begin = '<!-- results:begin -->';
  const end = '<!-- results:end -->';
  const current = await fs.readFile(page, 'utf8').catch(() => `# Benchmarks\n\n${begin}\n${end}\n`);
  const [before, rest] = current.includes(begin) ? current.split(begin) as [string, string] : [`${current}\n`, `\n${end}\n`];
  const after = rest.includes(end) ? rest.slice(rest.indexOf(end) + end.length) : '\n';
  await fs.writeFile(page, `${before}${begin}\n${generated}\n${end}${after}`);
  return page;
}
