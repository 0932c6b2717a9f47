import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { PersonalDataNotes } from '../privacy/personal-data-reads.js';
import type { TextWriter } from './socket-writes.js';

interface Execution {
  result: ExecutionResult;
  /** Nothing personal was read or left out: the result is the same for every subscriber under the key. */
  shareable: boolean;
  /** The result as the end of graphql-ws's `next` message, UTF-8, made once for every subscriber it is written to directly. */
  payload?: Buffer;
}

/** A socket subscription: the socket graphql-ws serves it on, and the id its client gave it. */
export interface SubscriptionTarget {
  id: string;
  socket: TextWriter;
}

/** What graphql-ws's context adds for a subscription (`graphqlWsOptions`), so that its shared results can be written directly. */
export interface SocketSubscriptionContext {
  subscriptionTarget?: SubscriptionTarget;
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
 *
 * A shared result without errors is also serialized once, and written to each socket subscription as
 * graphql-ws's `next` message directly: graphql-ws copied, stringified and validated the whole message
 * for every subscriber (with its `onNext` hook, which has nothing to do for such a result: no errors to
 * format, no personal reads to log), a third of the request loop in an unfiltered fan-out. It is
 * serialized to UTF-8 once too, and framed with each subscription's id by the socket's text writer
 * (`textWriterOf`), which ws would otherwise do message by message. Every other result is handed to
 * graphql-ws in turn, in order with those written.
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
    const source = stream[Symbol.asyncIterator]();
    const target = sharing === undefined ? undefined : (args.contextValue as SocketSubscriptionContext | undefined)?.subscriptionTarget;
    if (target) return writtenDirectly(source, (message) => this.result(message, sharing, args), target);
    return mapped(source, async (message) => (await this.result(message, sharing, args)).result);
  };

  /** The message's execution for this subscriber: the shared one when it may be shared, else its own. */
  private async result(message: unknown, sharing: string | undefined, args: ExecutionArgs): Promise<Execution> {
    if (sharing === undefined || typeof message !== 'object' || message === null) return this.execute(message, args);
    let shared = this.executions.get(message);
    if (!shared) this.executions.set(message, (shared = new Map()));
    const first = shared.get(sharing);
    if (!first) {
      const execution = this.execute(message, args);
      shared.set(sharing, execution);
      return execution;
    }
    const execution = await first;
    return execution.shareable ? execution : this.execute(message, args);
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

/**
 * `source`'s messages for graphql-ws, as `mapped`, except that shared results without errors are
 * written to the socket here, as the `next` messages graphql-ws would send, and only the others are
 * handed to graphql-ws: `next` resolves with the first of those, once the socket's writer has
 * acknowledged the ones before it (at once while its backlog is small, else by their writes).
 */
function writtenDirectly(source: AsyncIterator<unknown>, map: (message: unknown) => Promise<Execution>, { id, socket }: SubscriptionTarget): AsyncIterableIterator<ExecutionResult> {
  const prefix = Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`);
  return endingSource<ExecutionResult>(source, async () => {
    for (;;) {
      const step = await source.next();
      if (step.done) return { value: undefined, done: true };
      try {
        const execution = await map(step.value);
        if (!execution.shareable || execution.result.errors) return { value: execution.result, done: false };
        execution.payload ??= Buffer.from(`${JSON.stringify(execution.result)}}`);
        await socket.writeText([prefix, execution.payload]);
      } catch (error) {
        await source.return?.();
        throw error;
      }
    }
  });
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
  return endingSource(source, () => source.next().then(settle));
}

/** The iterator graphql-ws reads, taking its messages from `next`; ending it (the client left) ends the source. */
function endingSource<T>(source: AsyncIterator<unknown>, next: () => Promise<IteratorResult<T>>): AsyncIterableIterator<T> {
  return {
    next,
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
