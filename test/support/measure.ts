import fs from 'node:fs';

/** Figures a fault test measured, logged with one recognisable prefix (nothing is asserted on them beyond generous bounds). */
export function report(test: string, figures: Record<string, unknown>): void {
  console.info(`[trailmap-faults] ${test}: ${Object.entries(figures).map(([name, value]) => `${name}=${typeof value === 'number' ? round(value) : JSON.stringify(value)}`).join(' ')}`);
}

const round = (value: number) => (Number.isInteger(value) ? value : Number(value.toFixed(1)));

/** The p-th percentile (0–100) of some figures, by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Resident set size of a process in MB, from /proc/<pid>/status (VmRSS). */
export function rssMegabytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kilobytes = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return kilobytes / 1024;
}

/** Samples a process's RSS on a timer and keeps the peak, for a phase of a test. */
export class RssSampler {
  private timer?: NodeJS.Timeout;
  peak = 0;
  samples = 0;

  constructor(private readonly pid: number, private readonly intervalMs = 25) {}

  start(): this {
    this.peak = 0;
    this.samples = 0;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }

  private sample() {
    try {
      this.peak = Math.max(this.peak, rssMegabytes(this.pid));
      this.samples += 1;
    } catch {
      // the process is gone
    }
  }
}
