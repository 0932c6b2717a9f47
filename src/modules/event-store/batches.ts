/**
 * Groups an async stream into batches: a batch starts with the next item and takes what is
 * already available, up to `size`, so catch-up reads in full batches and live events go at once.
 */
export async function* inBatches<T>(source: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  const iterator = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | undefined;
  try {
    for (;;) {
      const first = await (pending ?? iterator.next());
      pending = undefined;
      if (first.done) return;
      const batch = [first.value];
      while (batch.length < size) {
        pending = iterator.next();
        const next = await Promise.race([pending, nextTurn()]);
        if (next === undefined) break; // nothing ready yet: keep the pending read for the next batch
        pending = undefined;
        if (next.done) {
          yield batch;
          return;
        }
        batch.push(next.value);
      }
      yield batch;
    }
  } finally {
    await iterator.return?.();
  }
}

function nextTurn(): Promise<undefined> {
  return new Promise((resolve) => setImmediate(() => resolve(undefined)));
}
