import { CONVOY_PAGES, RebuildConvoy } from './rebuild-convoy.js';

describe('the rebuild convoy', () => {
  const signal = new AbortController().signal;

  it('lets a runner go on while it is at most CONVOY_PAGES ahead of the slowest', async () => {
    const convoy = new RebuildConvoy();
    await convoy.keepTogether('slow', 0, signal);
    const started = performance.now();
    await convoy.keepTogether('fast', CONVOY_PAGES, signal);
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('holds a runner further ahead until the slowest catches up, or leaves', async () => {
    const convoy = new RebuildConvoy();
    await convoy.keepTogether('slow', 0, signal);
    let released = false;
    const fast = convoy.keepTogether('fast', CONVOY_PAGES + 5, signal).then(() => (released = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(released).toBe(false);
    await convoy.keepTogether('slow', 5, signal);
    await fast;
    expect(released).toBe(true);

    const again = convoy.keepTogether('fast', CONVOY_PAGES + 20, signal);
    convoy.leave('slow');
    const started = performance.now();
    await again;
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('never holds a runner more than CONVOY_MAX_WAIT_MS for one page, whatever the others do', async () => {
    const convoy = new RebuildConvoy(300);
    await convoy.keepTogether('stuck', 0, signal);
    const started = performance.now();
    await convoy.keepTogether('fast', 100, signal);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
