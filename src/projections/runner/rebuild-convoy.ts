import type { EventStore } from '../../modules/event-store/event-store.port.js';

/**
 * Rebuilds running at once in one process (an operator rebuilding every projection) read the log in
 * a convoy: a runner more than CONVOY_PAGES pages ahead of the slowest waits for it, so the store's
 * recent full pages serve them all and each page is read and parsed about once. The fast ones finish
 * no later than the slowest would anyway; a runner waits at most `maxWaitMs` per page, so a stuck one
 * never holds the others for long.
 */
export const CONVOY_PAGES = 8;
const CONVOY_MAX_WAIT_MS = 2_000;
const CONVOY_POLL_MS = 10;

export class RebuildConvoy {
  private readonly pagesRead = new Map<string, number>();

  constructor(private readonly maxWaitMs = CONVOY_MAX_WAIT_MS) {}

  /** Records that `name` has read `pages` pages, and waits while it is too far ahead of the slowest other runner. */
  async keepTogether(name: string, pages: number, signal: AbortSignal): Promise<void> {
    this.pagesRead.set(name, pages);
    const deadline = performance.now() + this.maxWaitMs;
    while (!signal.aborted && performance.now() < deadline && pages - this.slowestBut(name) > CONVOY_PAGES) {
      await new Promise((resolve) => setTimeout(resolve, CONVOY_POLL_MS));
    }
  }

  leave(name: string): void {
    this.pagesRead.delete(name);
  }

  private slowestBut(name: string): number {
    let slowest = Number.POSITIVE_INFINITY;
    for (const [other, pages] of this.pagesRead) if (other !== name) slowest = Math.min(slowest, pages);
    return slowest;
  }
}

/** One convoy per event store, that is per application instance. */
const convoys = new WeakMap<EventStore, RebuildConvoy>();

export function convoyOf(store: EventStore): RebuildConvoy {
  let convoy = convoys.get(store);
  if (!convoy) {
    convoy = new RebuildConvoy();
    convoys.set(store, convoy);
  }
  return convoy;
}
