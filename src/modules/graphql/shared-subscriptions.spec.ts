import { GraphQLID, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type ExecutionResult } from 'graphql';
import { SubscriberBuffer } from '../live/subscriber-buffer.js';
import { notePersonalRead, type PersonalDataNotes } from '../privacy/personal-data-reads.js';
import { SharedSubscriptions } from './shared-subscriptions.js';

interface Change {
  id: string;
  email: string;
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
          notePersonalRead(context, source.id, 'email');
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

  it('answers a subscription refused before it starts with its errors', async () => {
    const { schema } = schemaWithFeed();
    const refused = await new SharedSubscriptions().subscribe({ schema, document: parse('subscription { changed(tag: 1) { id } }'), contextValue: context('key-a') });
    expect(refused).toMatchObject({ errors: [expect.objectContaining({ message: 'Argument "tag" has invalid value 1.' })] });
  });
});
