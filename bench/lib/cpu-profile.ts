import fs from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  /** Self time by package (node_modules), project file (dist/…), Node internals or V8 ((garbage collector), (program)). */
  areas: ProfileEntry[];
  /** Self time by function. */
  functions: ProfileEntry[];
  /** Inclusive time of the project's own functions (time spent in them and what they call). */
  projectInclusive: ProfileEntry[];
  /** For the top self-time functions without a script (native, GC): the nearest project frames they ran under. */
  nativeCallers: { name: string; callers: ProfileEntry[] }[];
}

/** Where a server's CPU went, from a `node --cpu-prof` profile: self time by area and function, inclusive time of project code. */
export async function summarizeProfile(file: string, top = 20): Promise<ProfileSummary> {
  const profile = JSON.parse(await fs.readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, index) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000));

  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id)!;
    const area = areaOf(node.callFrame.url, node.callFrame.functionName);
    if (area === '(idle)') {
      idle += ms;
      continue;
    }
    total += ms;
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const name = functionName(node);
    functions.set(name, (functions.get(name) ?? 0) + ms);
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const frame = byId.get(current)!;
      if (!isProject(frame.callFrame.url)) continue;
      const key = functionName(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
  }
  // Native time (writev, GC…) has no script of its own: charge it to the nearest project frame above it.
  const nativeTop = [...functions].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([name]) => name).filter((name) => !/ dist\//.test(name));
  const nativeCallers = new Map<string, Map<string, number>>(nativeTop.map((name) => [name, new Map()]));
  for (const [id, ms] of self) {
    const name = functionName(byId.get(id)!);
    const callers = nativeCallers.get(name);
    if (!callers) continue;
    let caller = 'no project frame';
    for (let current = parent.get(id); current !== undefined; current = parent.get(current)) {
      const frame = byId.get(current)!;
      if (isProject(frame.callFrame.url)) {
        caller = functionName(frame);
        break;
      }
    }
    callers.set(caller, (callers.get(caller) ?? 0) + ms);
  }
  const entries = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), share: Math.round((ms / Math.max(total, 1)) * 1000) / 10 }));
  return {
    file,
    totalMs: Math.round(total),
    idleMs: Math.round(idle),
    areas: entries(areas),
    functions: entries(functions),
    projectInclusive: entries(inclusive),
    nativeCallers: [...nativeCallers].map(([name, callers]) => ({ name, callers: entries(callers).slice(0, 6) })),
  };
}

function areaOf(url: string, functionName: string): string {
  if (functionName === '(idle)') return '(idle)';
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url;
}

function functionName(node: ProfileNode): string {
  const { functionName: name, url, lineNumber } = node.callFrame;
  const area = areaOf(url, name);
  return `${name || '(anonymous)'} ${area}${url ? `:${lineNumber + 1}` : ''}`;
}

export function printProfile(summary: ProfileSummary, out = process.stdout): void {
  const block = (title: string, entries: ProfileEntry[]) =>
    `${title}\n${entries.map((entry) => `  ${entry.share.toFixed(1).padStart(5)} %  ${String(entry.ms).padStart(7)} ms  ${entry.name}`).join('\n')}\n`;
  out.write(
    `CPU profile of the server: ${summary.file}\n  ${summary.totalMs} ms on CPU, ${summary.idleMs} ms idle\n` +
      block('self time by area:', summary.areas) +
      block('self time by function:', summary.functions) +
      block('inclusive time of project functions:', summary.projectInclusive) +
      summary.nativeCallers.map((entry) => block(`${entry.name} under (share of all CPU):`, entry.callers)).join(''),
  );
}

/** Trailmap's own code as built (dist/), not a package's dist folder. */
function isProject(url: string): boolean {
  return url.includes('/dist/') && !url.includes('/node_modules/');
}
