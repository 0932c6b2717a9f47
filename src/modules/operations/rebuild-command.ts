import type { INestApplicationContext } from '@nestjs/common';
import { ProjectionsService, type ProjectionStatus } from '../../projections/projections.service.js';

/** `npm run cli -- rebuild <name>`: asks for a rebuild and draws its progress until the swap. */
export async function rebuildCommand(services: INestApplicationContext, name: string, output: NodeJS.WriteStream): Promise<void> {
  const started = Date.now();
  const done = await services.get(ProjectionsService).rebuildAndWait(name, (status, remaining) => output.write(progressLine(status, remaining, started, output.isTTY)));
  output.write(`${output.isTTY ? '\r\x1b[2K' : ''}Rebuilt ${name}: ${done.processedEvents.toLocaleString('en')} events in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
}

function progressLine(status: ProjectionStatus, remaining: number, started: number, tty = false): string {
  const done = status.rebuild?.processedEvents ?? status.processedEvents;
  const total = done + remaining;
  const share = total === 0 ? 1 : done / total;
  const width = 30;
  const bar = '#'.repeat(Math.round(share * width)).padEnd(width, '-');
  const seconds = (Date.now() - started) / 1000;
  const rate = seconds > 0 ? done / seconds : 0;
  const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
  const line = `[${bar}] ${(share * 100).toFixed(0).padStart(3)}%  ${done.toLocaleString('en')}/${total.toLocaleString('en')} events  ${Math.round(rate).toLocaleString('en')} ev/s  ETA ${eta.toFixed(0)} s  ${status.state}`;
  return tty ? `\r\x1b[2K${line}` : `${line}\n`;
}
