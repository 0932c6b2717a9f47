import { inBatches } from './batches.js';

async function* source(groups: number[][], pauseMs: number) {
  for (const group of groups) {
    for (const item of group) yield item;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

async function collect(iterable: AsyncIterable<number[]>) {
  const batches: number[][] = [];
  for await (const batch of iterable) batches.push(batch);
  return batches;
}

describe('batching a stream', () => {
  it('takes what is available at once, up to the size', async () => {
    expect(await collect(inBatches(source([[1, 2, 3, 4, 5], [6, 7]], 20), 2))).toEqual([[1, 2], [3, 4], [5], [6, 7]]);
  });

  it('does not wait for a full batch when nothing more is coming yet', async () => {
    expect(await collect(inBatches(source([[1], [2], [3]], 20), 100))).toEqual([[1], [2], [3]]);
  });

  it('loses no item across batches', async () => {
    const groups = Array.from({ length: 20 }, (_, index) => Array.from({ length: index % 7 }, (_, item) => index * 10 + item));
    const batches = await collect(inBatches(source(groups, 1), 4));
    expect(batches.flat()).toEqual(groups.flat());
    expect(batches.every((batch) => batch.length > 0 && batch.length <= 4)).toBe(true);
  });
});
