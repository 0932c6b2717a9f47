import DataLoader from 'dataloader';
import type { RequestContext } from './graphql.options.js';

/** One DataLoader per request and purpose: fields of a page of results cost one query, not one each. */
export function loaderOf<Key, Value>(context: RequestContext, name: string, batch: (keys: readonly Key[]) => Promise<Value[]>): DataLoader<Key, Value> {
  let loader = context.loaders.get(name) as DataLoader<Key, Value> | undefined;
  if (!loader) {
    loader = new DataLoader(batch);
    context.loaders.set(name, loader);
  }
  return loader;
}
