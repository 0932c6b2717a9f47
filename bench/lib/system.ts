import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { ROOT } from './trailmap.js';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** The machine a result was measured on: cores, memory, Node, and the load at that moment. */
export function machineInfo() {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    git: gitState(),
    distBuiltAt: distBuiltAt(),
  };
}

/** When dist/ was last built (its newest file): the code a server under test loads at start. */
export function distBuiltAt(): string {
  let newest = 0;
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const file = `${folder}/${entry.name}`;
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.js')) newest = Math.max(newest, statSync(file).mtimeMs);
    }
  };
  try {
    walk(`${ROOT}/dist`);
  } catch {
    return 'unknown';
  }
  return new Date(newest).toISOString();
}

/** `uptime`'s load averages (1, 5, 15 min): the machine may be busy with other people's work. */
export function load(): { one: number; five: number; fifteen: number; text: string } {
  const [one, five, fifteen] = os.loadavg().map((value) => Math.round(value * 100) / 100) as [number, number, number];
  return { one, five, fifteen, text: `${one} ${five} ${fifteen}` };
}

export function gitState() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const changed = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean).length;
    return { commit, uncommittedSourceFiles: changed };
  } catch {
    return { commit: 'unknown', uncommittedSourceFiles: -1 };
  }
}

/** Resident memory (KiB) of a process, from /proc; undefined once it is gone. */
export function rssKiB(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** CPU seconds used by each of a process and its children (the postmaster and its backends), by pid. */
export function cpuSecondsOfTree(rootPid: number): Map<number, number> {
  const usage = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (pid === rootPid || Number(fields[1]) === rootPid) usage.set(pid, (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS);
    } catch {
      // gone meanwhile
    }
  }
  return usage;
}

/** CPU used since `before` by the processes alive now (a backend that exited meanwhile is not counted). */
function treeDelta(before: Map<number, number>, now: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of now) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/** The whole machine's CPU time split, from /proc/stat. */
export function machineCpu(): { busy: number; idle: number; iowait: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line as [number, number, number, number, number, number, number, number];
  return { busy: (user + nice + system + irq + softirq + steal) / CLOCK_TICKS, idle: idle / CLOCK_TICKS, iowait: iowait / CLOCK_TICKS };
}

/**
 * Where the CPU went during a phase: the server process, PostgreSQL, this (load generator) process,
 * and the machine as a whole (others' work included), in cores used on average.
 */
export class CpuMeter {
  private readonly started = performance.now();
  private readonly server: number;
  private readonly postgres: Map<number, number>;
  private readonly self = process.cpuUsage();
  private readonly machine = machineCpu();

  constructor(
    private readonly serverPid: number | undefined,
    private readonly postmasterPid: number | undefined,
  ) {
    this.server = serverPid ? (cpuSeconds(serverPid) ?? 0) : 0;
    this.postgres = postmasterPid ? cpuSecondsOfTree(postmasterPid) : new Map();
  }

  /** Average cores busy since the meter started. */
  read() {
    const seconds = (performance.now() - this.started) / 1000;
    const self = process.cpuUsage(this.self);
    const machine = machineCpu();
    const cores = (value: number) => Math.round((value / Math.max(seconds, 0.001)) * 100) / 100;
    return {
      seconds: Math.round(seconds * 100) / 100,
      serverCores: this.serverPid ? cores((cpuSeconds(this.serverPid) ?? 0) - this.server) : null,
      postgresCores: this.postmasterPid ? cores(treeDelta(this.postgres, cpuSecondsOfTree(this.postmasterPid))) : null,
      loadGeneratorCores: cores((self.user + self.system) / 1e6),
      machineBusyCores: cores(machine.busy - this.machine.busy),
      machineIowaitCores: cores(machine.iowait - this.machine.iowait),
    };
  }
}

/** Samples a process's RSS at an interval: the series, its maximum and whether it stays flat. */
export class RssSampler {
  readonly samples: { seconds: number; mib: number }[] = [];
  private timer?: NodeJS.Timeout;
  private readonly started = performance.now();

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 250,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop() {
    clearInterval(this.timer);
    this.sample();
    return this.summary();
  }

  /** Max RSS; growth = the max of the last half minus the max of the first half (flat memory: about 0). */
  summary(samples = this.samples) {
    const mibs = samples.map((sample) => sample.mib);
    const half = Math.floor(samples.length / 2);
    const maxOf = (values: number[]) => (values.length ? Math.max(...values) : Number.NaN);
    return {
      startMiB: mibs[0] ?? Number.NaN,
      endMiB: mibs.at(-1) ?? Number.NaN,
      maxMiB: maxOf(mibs),
      growthMiB: Math.round((maxOf(mibs.slice(half)) - maxOf(mibs.slice(0, Math.max(1, half)))) * 10) / 10,
    };
  }

  /** At most `points` samples, evenly spaced, for the results file. */
  series(points = 120) {
    const step = Math.max(1, Math.ceil(this.samples.length / points));
    return this.samples.filter((_, index) => index % step === 0 || index === this.samples.length - 1);
  }

  private sample() {
    const kib = rssKiB(this.pid);
    if (kib !== undefined) this.samples.push({ seconds: Math.round((performance.now() - this.started) / 100) / 10, mib: Math.round(kib / 102.4) / 10 });
  }
}
