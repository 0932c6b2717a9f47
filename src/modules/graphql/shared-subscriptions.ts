import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { PersonalDataNotes } from '../privacy/personal-data-reads.js';

interface Execution {
  result: ExecutionResult;
  /** Nothing personal was read or left out: the result is the same for every subscriber under the key. */
  shareable: boolean;
}

/**
 * graphql-ws's `subscribe`: graphql-js's, except that a message is executed once for all the
 * subscriptions that ask the same of it (the same document, operation and variables, under the same
 * API key), and the result is shared. An unfiltered `journeyStageChanged` on a thousand dashboards
 * executed its selection a thousand times per change.
 *
 * A message whose execution read personal data, or left some out, is not shared: each subscriber then
 * executes it in its own context, so that its reads reach the access log as its own and its redactions
 * are reported to it. Documents are the same object for the same text (`socketOperations` keeps them),
 * and a message is the same object for every subscriber a feed pushes it to: results are held by the
 * message, and go when it does.
 */
export class SharedSubscriptions {
  private readonly executions = new WeakMap<object, Map<string, Promise<Execution>>>();
  private readonly documentIds = new WeakMap<DocumentNode, number>();
  private documents = 0;
  private executed = 0;

  /** How many times a message has been executed, shared or not. */
  get executionCount(): number {
    return this.executed;
  }

  readonly subscribe = async (args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> => {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterable(stream)) return stream;
    const sharing = this.sharingKey(args);
    return mapped(stream[Symbol.asyncIterator](), (message) => this.result(message, sharing, args));
  };

  private async result(message: unknown, sharing: string | undefined, args: ExecutionArgs): Promise<ExecutionResult> {
    if (sharing === undefined || typeof message !== 'object' || message === null) return (await this.execute(message, args)).result;
    let shared = this.executions.get(message);
    if (!shared) this.executions.set(message, (shared = new Map()));
    const first = shared.get(sharing);
    if (!first) {
      const execution = this.execute(message, args);
      shared.set(sharing, execution);
      return (await execution).result;
    }
    const { result, shareable } = await first;
    return shareable ? result : (await this.execute(message, args)).result;
  }

  private async execute(message: unknown, args: ExecutionArgs): Promise<Execution> {
    this.executed += 1;
    const notes = args.contextValue as PersonalDataNotes | undefined;
    const before = notesCount(notes);
    const result = await execute({ ...args, rootValue: message });
    return { result, shareable: notesCount(notes) === before };
  }

  /** What subscriptions must have in common to share a message's result; none for a caller without a key. */
  private sharingKey({ document, operationName, variableValues, contextValue }: ExecutionArgs): string | undefined {
    const keyId = (contextValue as PersonalDataNotes | undefined)?.principal?.keyId;
    if (keyId === undefined) return undefined;
    let documentId = this.documentIds.get(document);
    if (documentId === undefined) this.documentIds.set(document, (documentId = ++this.documents));
    return JSON.stringify([documentId, operationName ?? null, variableValues ?? {}, keyId]);
  }
}

function notesCount(notes: PersonalDataNotes | undefined): number {
  let count = notes?.redactions?.length ?? 0;
  for (const fields of notes?.personalReads?.values() ?? []) count += fields.size;
  return count;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof Object(value)[Symbol.asyncIterator] === 'function';
}

/** `source`'s messages through `map`, in order; ending it (the client left) ends the source. */
function mapped<T>(source: AsyncIterator<unknown>, map: (message: unknown) => Promise<T>): AsyncIterableIterator<T> {
  const settle = async (step: IteratorResult<unknown>): Promise<IteratorResult<T>> => {
    if (step.done) return { value: undefined, done: true };
    try {
      return { value: await map(step.value), done: false };
    } catch (error) {
      await source.return?.();
      throw error;
    }
  };
  return {
    next: () => source.next().then(settle),
    return: async () => {
      await source.return?.();
      return { value: undefined, done: true };
    },
    throw: async (error?: unknown) => {
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
