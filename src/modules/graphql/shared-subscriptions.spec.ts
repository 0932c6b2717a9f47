import { GraphQLID, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type ExecutionResult } from 'graphql';
import { SubscriberBuffer } from '../live/subscriber-buffer.js';
import { notePersonalRead, type PersonalDataNotes } from '../privacy/personal-data-reads.js';
import { SharedSubscriptions, type SubscriptionTarget } from './shared-subscriptions.js';

interface Change {
  id: string;
  email?: string;
}

/** A schema with one subscription, `changed`, whose `email` notes a personal read as the real resolvers do. */
function schemaWithFeed() {
  const buffers: SubscriberBuffer<Change>[] = [];
  const change = new GraphQLObjectType<Change, PersonalDataNotes>({
    name: 'Change',
    fields: {
      id: { type: new GraphQLNonNull(GraphQLID) },
      email: {
        type: GraphQLString,
        resolve: (source, _args, context) => {
          if (source.email !== undefined) notePersonalRead(context, source.id, 'email');
          return source.email;
        },
      },
    },
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        changed: {
          type: new GraphQLNonNull(change),
          args: { tag: { type: GraphQLString } },
          subscribe: () => {
            const buffer = new SubscriberBuffer<Change>(() => buffers.splice(buffers.indexOf(buffer), 1));
            buffers.push(buffer);
            return buffer;
          },
          resolve: (message: Change) => message,
        },
      },
    }),
  });
  return { schema, buffers };
}

const ID_ONLY = parse('subscription($tag: String) { changed(tag: $tag) { id } }');
const WITH_EMAIL = parse('subscription { changed { id email } }');

describe('SharedSubscriptions', () => {
  const context = (keyId: string): PersonalDataNotes => ({ principal: { keyId, roles: new Set() } });

  async function subscribed(shared: SharedSubscriptions, schema: GraphQLSchema, document = ID_ONLY, keyId = 'key-a', variableValues: Record<string, unknown> = {}) {
    const contextValue = context(keyId);
    const stream = await shared.subscribe({ schema, document, contextValue, variableValues });
    if (!(Symbol.asyncIterator in stream)) throw new Error(JSON.stringify(stream));
    return { stream, contextValue };
  }

  const send = (buffers: SubscriberBuffer<Change>[], message: Change) => buffers.forEach((buffer) => buffer.push(message));

  it('executes a message once for the subscriptions that ask the same of it under the same key, and gives each the result', async () => {
    const { schema, buffers } = schemaWithFeed();
    const shared = new SharedSubscriptions();
    const subscriptions = await Promise.all([1, 2, 3].map(() => subscribed(shared, schema)));
    send(buffers, { id: 'c1', email: 'ada@example.com' });
    send(buffers, { id: 'c2', email: 'grace@example.com' });
    for (const { stream } of subscriptions) {
      expect(await stream.next()).toEqual({ value: { data: { changed: { id: 'c1' } } }, done: false });
      expect(await stream.next()).toEqual({ value: { data: { changed: { id: 'c2' } } }, done: false });
    }
    expect(shared.executionCount).toBe(2);
  });

  it('executes apart for another key, other variables or another document', async () => {
    const { schema, buffers } = schemaWithFeed();
    const shared = new SharedSubscriptions();
    const differing = await Promise.all([
      subscribed(shared, schema),
      subscribed(shared, schema, ID_ONLY, 'key-b'),
      subscribed(shared, schema, ID_ONLY, 'key-a', { tag: 'x' }),
      subscribed(shared, schema, parse('subscription($tag: String) { changed(tag: $tag) { id } }')),
    ]);
    send(buffers, { id: 'c1', email: 'ada@example.com' });
    for (const { stream } of differing) expect((await stream.next()).value).toEqual({ data: { changed: { id: 'c1' } } });
    expect(shared.executionCount).toBe(4);
  });

  it('does not share a result that read personal data: each subscriber reads it, and its read is noted in its own context', async () => {
    const { schema, buffers } = schemaWithFeed();
    const shared = new SharedSubscriptions();
    const subscriptions = await Promise.all([1, 2].map(() => subscribed(shared, schema, WITH_EMAIL)));
    send(buffers, { id: 'c1', email: 'ada@example.com' });
    const results: ExecutionResult[] = [];
    for (const { stream } of subscriptions) results.push((await stream.next()).value);
    expect(results).toEqual([1, 2].map(() => ({ data: { changed: { id: 'c1', email: 'ada@example.com' } } })));
    expect(shared.executionCount).toBe(2);
    for (const { contextValue } of subscriptions) expect(contextValue.personalReads).toEqual(new Map([['c1', new Set(['email'])]]));
  });

  it('ends its source when the subscriber leaves, and passes on the source failing', async () => {
    const { schema, buffers } = schemaWithFeed();
    const shared = new SharedSubscriptions();
    const leaving = await subscribed(shared, schema);
    const failing = await subscribed(shared, schema);
    expect(buffers).toHaveLength(2);
    await leaving.stream.return!();
    expect(buffers).toHaveLength(1);
    buffers[0]!.fail(new Error('feed lost'));
    await expect(failing.stream.next()).rejects.toThrow('feed lost');
    expect(buffers).toHaveLength(0);
  });

  /** A socket subscription's target: what is written to it, and the writes it has not acknowledged yet (while `backedUp`). */
  function socketTarget(id: string) {
    const sent: unknown[] = [];
    const unacknowledged: (() => void)[] = [];
    const target: SubscriptionTarget & { backedUp: boolean } = {
      id,
      backedUp: false,
      socket: {
        writeText: (parts) => {
          sent.push(JSON.parse(Buffer.concat(parts).toString()));
          return target.backedUp ? new Promise<void>((resolve) => unacknowledged.push(resolve)) : undefined;
        },
      },
    };
    return { target, sent, unacknowledged };
  }

  async function subscribedOnSocket(shared: SharedSubscriptions, schema: GraphQLSchema, target: SubscriptionTarget, document = ID_ONLY) {
    const contextValue = { ...context('key-a'), subscriptionTarget: target };
    const stream = await shared.subscribe({ schema, document, contextValue });
    if (!(Symbol.asyncIterator in stream)) throw new Error(JSON.stringify(stream));
    return stream;
  }

  const settled = () => new Promise((resolve) => setImmediate(resolve));

  it("writes a shared result to each socket subscription as graphql-ws's next message, executed once for all of them", async () => {
    const { schema, buffers } = schemaWithFeed();
    const shared = new SharedSubscriptions();
    const sockets = ['1', 'a-2'].map(socketTarget);
    const streams = await Promise.all(sockets.map(({ target }) => subscribedOnSocket(shared, schema, target)));
    const pulls = streams.map((stream) => stream.next());
    send(buffers, { id: 'c1' });
    send(buffers, { id: 'c2' });
    await settled();
    expect(sockets[0]!.sent).toEqual([
      { id: '1', type: 'next', payload: { data: { changed: { id: 'c1' } } } },
      { id: '1', type: 'next', payload: { data: { changed: { id: 'c2' } } } },
    ]);
    expect(sockets[1]!.sent.map((message) => (message as { id: string }).id)).toEqual(['a-2', 'a-2']);
    expect(shared.executionCount).toBe(2);
    // Nothing was handed to graphql-ws: its pull still waits, and ends when the subscriber leaves.
    await streams[0]!.return!();
    expect(await pulls[0]).toEqual({ value: undefined, done: true });
  });

  it('hands a result with personal reads to graphql-ws in its turn, and writes the next shared one only after it', async () => {
    const { schema, buffers } = schemaWithFeed();
    const { target, sent } = socketTarget('7');
    const stream = await subscribedOnSocket(new SharedSubscriptions(), schema, target, WITH_EMAIL);
    send(buffers, { id: 'c1' });
    send(buffers, { id: 'c2', email: 'ada@example.com' });
    send(buffers, { id: 'c3' });
    expect(await stream.next()).toEqual({ value: { data: { changed: { id: 'c2', email: 'ada@example.com' } } }, done: false });
    expect(sent).toEqual([{ id: '7', type: 'next', payload: { data: { changed: { id: 'c1', email: null } } } }]);
    // graphql-ws sends c2 (and logs its read), then pulls again: c3 follows it.
    const pull = stream.next();
    await settled();
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual({ id: '7', type: 'next', payload: { data: { changed: { id: 'c3', email: null } } } });
    await stream.return!();
    expect(await pull).toEqual({ value: undefined, done: true });
  });

  it('waits for a write that the socket does not acknowledge at once (its backlog is large)', async () => {
    const { schema, buffers } = schemaWithFeed();
    const { target, sent, unacknowledged } = socketTarget('1');
    const stream = await subscribedOnSocket(new SharedSubscriptions(), schema, target);
    void stream.next();
    target.backedUp = true;
    send(buffers, { id: 'c1' });
    send(buffers, { id: 'c2' });
    await settled();
    // c1 went to a backed-up socket: c2 waits for its write.
    expect(sent).toHaveLength(1);
    expect(unacknowledged).toHaveLength(1);
    target.backedUp = false;
    unacknowledged[0]!();
    await settled();
    expect(sent).toHaveLength(2);
    expect(unacknowledged).toHaveLength(1);
    await stream.return!();
  });

  it('passes on the source failing to graphql-ws, as the other subscriptions do', async () => {
    const { schema, buffers } = schemaWithFeed();
    const { target } = socketTarget('1');
    const stream = await subscribedOnSocket(new SharedSubscriptions(), schema, target);
    const pull = stream.next();
    buffers[0]!.fail(new Error('feed lost'));
    await expect(pull).rejects.toThrow('feed lost');
    expect(buffers).toHaveLength(0);
  });

  it('answers a subscription refused before it starts with its errors', async () => {
    const { schema } = schemaWithFeed();
    const refused = await new SharedSubscriptions().subscribe({ schema, document: parse('subscription { changed(tag: 1) { id } }'), contextValue: context('key-a') });
    expect(refused).toMatchObject({ errors: [expect.objectContaining({ message: 'Argument "tag" has invalid value 1.' })] });
  });
});
