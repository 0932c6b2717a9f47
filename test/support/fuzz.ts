import { createRandom, seedOf, type Random } from '../../src/demo/random.js';
import { apiKeys } from './app.js';

/**
 * Generated malformed requests for the three doors: GraphQL `recordEvents`, the Segment HTTP API
 * and the GraphQL read API. Each request is broken on purpose in at least one way that must
 * refuse it (its `flaw`), and carries hostile values elsewhere (injection strings, odd Unicode,
 * huge numbers) that the server must treat as data. Request `n` of seed `s` is the same on every
 * run and machine: `fuzzRequest(s, n)` rebuilds a failing one.
 */
export interface FuzzRequest {
  door: 'recordEvents' | 'segment' | 'read';
  /** What is wrong with it, for the report and for reproducing it. */
  flaw: string;
  path: string;
  headers: Record<string, string>;
  body: string | Buffer;
}

export const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE event_store_events; --",
  '"; DELETE FROM customer_profiles WHERE ""="',
  "1; SELECT pg_sleep(5); --",
  "$$; TRUNCATE event_store_events CASCADE; $$",
  "x' UNION SELECT wrapped_key::text FROM customer_keys --",
  "\\'; COPY event_store_events TO '/tmp/x'; --",
  '<script>alert(document.cookie)</script>',
  '"><img src=x onerror=alert(1)>',
  'javascript:alert(1)',
  '{{constructor.constructor("return process")()}}',
  '${process.exit(1)}',
  '__proto__',
  'constructor',
  '../../../../etc/passwd',
  '%00%27%22',
  '\u202eevil\u202c',
  '😀👨‍👩‍👧‍👦',
  'ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ',
  'NaN',
  '-0',
  '1e309',
  'null',
  'true',
] as const;

const BAD_STRINGS = ['\u0000', 'nul\u0000in the middle', '\ud800', 'lone \udfff low', 'x\ud83d'] as const;
const CATALOG_TYPES = ['Product Viewed', 'Page Viewed', 'Order Completed', 'Identified', 'Product Added', 'Signed Up'] as const;
const SYSTEM_TYPES = ['Customer Forgotten', 'Customer Went Dormant', 'Cart Abandoned'] as const;
const BAD_TIMES = ['yesterday', '2026-13-45T00:00:00Z', '2026-02-30T25:61:00Z', '0000-00-00T00:00:00Z', '1969-12-31T23:59:59Z', '2099-01-01T00:00:00Z', '', '2026-11-01', '2026-11-01T00:00:00+99:00', '+275760-09-13T00:00:00.001Z'] as const;
const SEGMENT_CALLS = { track: 1, identify: 1, page: 1, screen: 1, group: 1, alias: 1 } as Record<string, number>;
const STAGES = ['DISCOVERY', 'ENGAGEMENT', 'CONVERSION', 'POST_PURCHASE', 'RETENTION', 'DORMANT'] as const;

const RECORD = 'mutation Record($events: [EventInput!]!) { recordEvents(events: $events) { results { id customerId duplicate } } }';

export function fuzzRequest(seed: number, index: number): FuzzRequest {
  const random = createRandom(seedOf(seed, index));
  const door = random.weighted([['recordEvents', 4], ['segment', 4], ['read', 3]] as const);
  if (door === 'recordEvents') return recordEventsRequest(random, index);
  if (door === 'segment') return segmentRequest(random, index);
  return readRequest(random, index);
}

// ─── Values ─────────────────────────────────────────────────────────────────────────────────

function hostile(random: Random): string {
  return random.weighted([
    [() => random.pick(INJECTIONS), 8],
    [() => `${random.pick(INJECTIONS)} ${random.pick(INJECTIONS)}`, 2],
    [() => random.pick(INJECTIONS).repeat(random.int(2, 40)), 1],
    [() => String.fromCodePoint(...Array.from({ length: random.int(1, 12) }, () => random.pick([0x41, 0xe9, 0x4e2d, 0x1f600, 0x10ffff, 0xfeff, 0x200b]))), 2],
  ] as const)();
}

function longString(random: Random, length: number): string {
  return random.pick(['x', 'é', '😀', "'", '<']).repeat(length);
}

function anyValue(random: Random, depth = 0): unknown {
  const kind = random.weighted([['string', 5], ['number', 2], ['boolean', 1], ['null', 1], ['array', depth < 3 ? 1 : 0], ['object', depth < 3 ? 2 : 0]] as const);
  switch (kind) {
    case 'string':
      return hostile(random);
    case 'number':
      return random.pick([0, -1, 1.5, 2 ** 53 + 1, -(2 ** 63), 1e308, -1e-308, 4_294_967_296]);
    case 'boolean':
      return random.chance(0.5);
    case 'null':
      return null;
    case 'array':
      return Array.from({ length: random.int(0, 4) }, () => anyValue(random, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: random.int(0, 4) }, () => [hostile(random), anyValue(random, depth + 1)]));
  }
}

/** JSON nested `depth` levels deep, as text (built without recursion, so any depth is cheap). */
function deepJson(depth: number, leaf = '"deep"'): string {
  return `${'{"n":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
}

function deepArrayJson(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

const keyFor = (random: Random) =>
  random.weighted([
    [apiKeys.ingest, 12],
    [apiKeys.admin, 3],
    [undefined, 1],
    ['not-a-key-at-all-xxxxxxxx', 1],
    [apiKeys.analyst, 1],
  ] as const);

// ─── GraphQL recordEvents ───────────────────────────────────────────────────────────────────

interface EventFlaw {
  name: string;
  /** Breaks the event (or message); returns a `__DEEP_<n>__` marker when the break is nesting, spliced into the body as raw JSON text. */
  apply(event: Record<string, unknown>, random: Random): string | void;
}

const graphqlEventFlaws: EventFlaw[] = [
  { name: 'unknown type', apply: (event, random) => void (event.type = `${hostile(random)} Happened`) },
  { name: 'type missing', apply: (event) => void delete event.type },
  { name: 'type of the wrong kind', apply: (event, random) => void (event.type = random.pick([42, true, ['Product Viewed'], { name: 'Product Viewed' }, null])) },
  { name: 'system type', apply: (event, random) => void (event.type = random.pick(SYSTEM_TYPES)) },
  {
    name: 'no user and no anonymous id',
    apply: (event, random) => {
      delete event.userId;
      delete event.anonymousId;
      if (random.chance(0.5)) event.anonymousId = random.pick(['', '   ', null]);
    },
  },
  { name: 'user id too long', apply: (event, random) => void (event.userId = longString(random, random.int(257, 5_000))) },
  { name: 'anonymous id too long', apply: (event, random) => void (event.anonymousId = longString(random, random.int(257, 5_000))) },
  { name: 'event id too long', apply: (event, random) => void (event.id = longString(random, random.int(257, 5_000))) },
  { name: 'blank event id', apply: (event, random) => void (event.id = random.pick(['', '  ', '\t'])) },
  { name: 'reserved anon: user id', apply: (event, random) => void (event.userId = `anon:${hostile(random)}`) },
  // (Not a huge float: GraphQL's ID takes any integral number, 1.5e300 included, as the text "1.5e+300".)
  { name: 'user id of the wrong kind', apply: (event, random) => void (event.userId = random.pick([true, { id: 1 }, [1], 1.5, -0.25])) },
  { name: 'bad timestamp', apply: (event, random) => void (event.occurredAt = random.pick([...BAD_TIMES, 12345, true, { at: 1 }])) },
  { name: 'properties not an object', apply: (event, random) => void (event.properties = random.pick([[1, 2], 'props', 7, true])) },
  { name: 'traits not an object', apply: (event, random) => void (event.traits = random.pick([[1], 'traits', 3])) },
  { name: 'property of the wrong type', apply: (event, random) => Object.assign(event, { type: 'Product Viewed', properties: { ...(event.properties as object), price: hostile(random), quantity: -random.int(1, 9) } }) },
  { name: 'invalid email trait', apply: (event, random) => Object.assign(event, { type: 'Identified', traits: { email: `${hostile(random)} not an email` } }) },
  { name: 'invalid currency', apply: (event, random) => Object.assign(event, { type: 'Order Completed', properties: { order_id: 'o', total: 5, currency: random.pick(['EURO', 'e', '€', hostile(random)]) } }) },
  { name: 'event over 32 KB', apply: (event, random) => void ((event.properties as Record<string, unknown>).padding = longString(random, random.int(33_000, 80_000))) },
  { name: 'nested too deep', apply: (_event, random) => `__DEEP_${random.int(26, random.chance(0.2) ? 20_000 : 500)}__` },
  {
    name: 'NUL or lone surrogate',
    apply: (event, random) => {
      const bad = random.pick(BAD_STRINGS);
      const where = random.int(0, 3);
      if (where === 0) event.userId = `u${bad}`;
      else if (where === 1) (event.properties as Record<string, unknown>).name = bad;
      else if (where === 2) (event.properties as Record<string, unknown>)[`key${bad}`] = 1;
      else event.channel = bad;
    },
  },
  { name: 'channel too long or empty', apply: (event, random) => void (event.channel = random.chance(0.5) ? '' : longString(random, random.int(65, 2_000))) },
  { name: 'field EventInput does not have', apply: (event, random) => void (event[random.pick(['context', 'sentAt', 'messageId', hostile(random).replace(/[^A-Za-z]/g, '') || 'extra'])] = anyValue(random)) },
  { name: 'link without previous id', apply: (event) => Object.assign(event, { type: 'Identity Linked', properties: {}, anonymousId: undefined }) },
];

function baseEvent(random: Random, index: number, offset: number): Record<string, unknown> {
  const event: Record<string, unknown> = {
    id: `fuzz-${index}-${offset}-${hostile(random)}`,
    type: random.pick(CATALOG_TYPES.slice(0, 2)),
    userId: `fuzz-${random.int(1, 50)}-${hostile(random)}`,
    occurredAt: '2026-11-01T10:00:00.000Z',
    properties: { product_id: hostile(random), path: hostile(random), title: hostile(random) },
  };
  if (random.chance(0.3)) event.anonymousId = `anon-${hostile(random)}`;
  if (random.chance(0.3)) event.channel = random.pick(['web', 'ios', "web'; --"]);
  if (random.chance(0.3)) event.traits = { note: hostile(random) };
  return event;
}

function recordEventsRequest(random: Random, index: number): FuzzRequest {
  const key = keyFor(random);
  const headers = { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) };
  const shape = random.weighted([['events', 14], ['too many events', 1], ['not a list', 1], ['broken document', 2], ['invalid JSON body', 2]] as const);
  if (shape === 'too many events') {
    const events = Array.from({ length: 1_001 }, (_, offset) => ({ type: 'Page Viewed', userId: `fuzz-many-${index}`, id: `fuzz-${index}-${offset}` }));
    return { door: 'recordEvents', flaw: '1,001 events', path: '/graphql', headers, body: JSON.stringify({ query: RECORD, variables: { events } }) };
  }
  if (shape === 'not a list') {
    const events = random.pick([null, 'events', 5, { type: 'Page Viewed' }, [null], [[{ type: 'Page Viewed', userId: 'u' }]]]);
    // A single object is coerced to a list of one by GraphQL: keep it broken.
    const broken = events !== null && typeof events === 'object' && !Array.isArray(events) ? { ...events } : events;
    return { door: 'recordEvents', flaw: `events is ${JSON.stringify(broken)}`, path: '/graphql', headers, body: JSON.stringify({ query: RECORD, variables: { events: broken } }) };
  }
  if (shape === 'broken document') {
    const query = random.pick([
      'mutation { recordEvents }',
      'mutation { recordEvents(events: []) }',
      'mutation($e: [EventInput!]!) { recordEvents(events: $e) { results { id nope } } }',
      `mutation { recordEvents(events: [{ type: "Page Viewed", userId: ${JSON.stringify(hostile(random))} }]) { results { id } `,
      'mutation { recordEvent(events: [{ type: "Page Viewed", userId: "u" }]) { results { id } } }',
      'subscription { recordEvents(events: []) { results { id } } }',
      `mutation { recordEvents(events: [{ type: "Page Viewed", userId: "u", occurredAt: "${random.pick(BAD_TIMES)}x" }]) { results { id } } }`,
    ]);
    return { door: 'recordEvents', flaw: 'broken document', path: '/graphql', headers, body: JSON.stringify({ query, variables: { e: [] } }) };
  }
  if (shape === 'invalid JSON body') {
    const event = JSON.stringify(baseEvent(random, index, 0));
    const body = random.pick([
      `{"query":${JSON.stringify(RECORD)},"variables":{"events":[${event}]`,
      `{"query":${JSON.stringify(RECORD)},"variables":{"events":[${event},]}}`,
      `{'query': 'mutation { recordEvents }'}`,
      `{"query":${JSON.stringify(RECORD)},"variables":{"events":[${event.replace('"type"', 'type')}]}}`,
      `{"query":${JSON.stringify(RECORD)},"variables":{"events":[{"type":"Page Viewed","userId":NaN}]}}`,
    ]);
    return { door: 'recordEvents', flaw: 'invalid JSON', path: '/graphql', headers, body };
  }
  const count = random.weighted([[1, 6], [random.int(2, 20), 3], [random.int(21, 200), 1]] as const);
  const events = Array.from({ length: count }, (_, offset) => baseEvent(random, index, offset));
  const broken = random.int(0, count - 1);
  const flaw = random.pick(graphqlEventFlaws);
  const raw = flaw.apply(events[broken]!, random);
  let body = JSON.stringify({ query: RECORD, variables: { events } });
  if (typeof raw === 'string') {
    const depth = Number(/__DEEP_(\d+)__/.exec(raw)![1]);
    const marker = `"__fuzz_deep__"`;
    (events[broken]!.properties as Record<string, unknown>).nested = '__fuzz_deep__';
    body = JSON.stringify({ query: RECORD, variables: { events } }).replace(marker, random.chance(0.5) ? deepJson(depth) : deepArrayJson(depth));
  }
  return { door: 'recordEvents', flaw: `${flaw.name} (event ${broken} of ${count})`, path: '/graphql', headers, body: withInvalidUtf8(random, body, 0.05) };
}

/** Sometimes swaps a few characters inside JSON strings for bytes that are not UTF-8. */
function withInvalidUtf8(random: Random, body: string, probability: number): string | Buffer {
  if (!random.chance(probability)) return body;
  const bytes = Buffer.from(body, 'utf8');
  const strings = [...body.matchAll(/"[a-z]{3,}"/g)].map((match) => Buffer.byteLength(body.slice(0, match.index! + 1)));
  if (strings.length === 0) return body;
  const at = random.pick(strings);
  const bad = random.pick([Buffer.from([0xff]), Buffer.from([0xc3, 0x28]), Buffer.from([0xe2, 0x82]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])]);
  return Buffer.concat([bytes.subarray(0, at), bad, bytes.subarray(at)]);
}

// ─── Segment HTTP API ───────────────────────────────────────────────────────────────────────

const segmentMessageFlaws: EventFlaw[] = [
  { name: 'track without event', apply: (message) => Object.assign(message, { type: 'track', event: undefined }) },
  { name: 'unknown event', apply: (message, random) => Object.assign(message, { type: 'track', event: `${hostile(random)} Happened` }) },
  { name: 'event of the wrong kind', apply: (message, random) => Object.assign(message, { type: 'track', event: random.pick([1, true, ['x'], { e: 1 }]) }) },
  { name: 'system event', apply: (message, random) => Object.assign(message, { type: 'track', event: random.pick(SYSTEM_TYPES) }) },
  { name: 'no user and no anonymous id', apply: (message) => Object.assign(message, { userId: undefined, anonymousId: undefined }) },
  { name: 'user id too long', apply: (message, random) => void (message.userId = longString(random, random.int(257, 5_000))) },
  { name: 'message id too long', apply: (message, random) => void (message.messageId = longString(random, random.int(250, 5_000))) },
  { name: 'reserved anon: user id', apply: (message, random) => void (message.userId = `anon:${hostile(random)}`) },
  // Without sentAt: the clock-skew correction would move a 1969 time into 1970, which is valid.
  { name: 'bad timestamp', apply: (message, random) => Object.assign(message, { timestamp: random.pick([...BAD_TIMES.filter((time) => time !== ''), 12345, false, { t: 1 }]), sentAt: undefined }) },
  { name: 'properties of the wrong types', apply: (message, random) => Object.assign(message, { type: 'track', event: 'Product Viewed', properties: { price: hostile(random), quantity: -1 } }) },
  { name: 'identify with an invalid email', apply: (message, random) => Object.assign(message, { type: 'identify', event: undefined, traits: { email: `${hostile(random)} @@` } }) },
  { name: 'alias without previous id', apply: (message) => Object.assign(message, { type: 'alias', previousId: undefined, anonymousId: undefined }) },
  { name: 'context of the wrong shape', apply: (message, random) => void (message.context = random.pick(['ctx', [1], { page: 'not an object' }, { campaign: [] }])) },
  { name: 'event over 32 KB', apply: (message, random) => void ((message.properties as Record<string, unknown>).padding = longString(random, random.int(33_000, 120_000))) },
  { name: 'nested too deep', apply: (_message, random) => `__DEEP_${random.int(26, random.chance(0.2) ? 20_000 : 400)}__` },
  {
    name: 'NUL or lone surrogate',
    apply: (message, random) => {
      const bad = random.pick(BAD_STRINGS);
      if (random.chance(0.5)) message.userId = `u${bad}`;
      else (message.properties as Record<string, unknown>)[random.chance(0.5) ? 'name' : `k${bad}`] = bad;
    },
  },
  { name: 'channel too long', apply: (message, random) => void (message.channel = longString(random, random.int(65, 1_000))) },
  { name: 'unknown call type in a batch', apply: (message, random) => void (message.type = random.pick(['trak', 'Track', '', null, 7, hostile(random)])) },
];

function baseMessage(random: Random, index: number, offset: number): Record<string, unknown> {
  const message: Record<string, unknown> = {
    type: 'track',
    event: random.pick(CATALOG_TYPES.slice(0, 2)),
    messageId: `fuzz-${index}-${offset}-${hostile(random)}`.slice(0, 200),
    userId: `fuzz-${random.int(1, 50)}-${hostile(random)}`,
    timestamp: '2026-11-01T10:00:00.000Z',
    properties: { product_id: hostile(random), path: hostile(random) },
  };
  if (random.chance(0.3)) message.anonymousId = `anon-${hostile(random)}`;
  if (random.chance(0.3)) message.context = { page: { title: hostile(random) }, library: { name: hostile(random) } };
  if (random.chance(0.2)) message.sentAt = random.pick(['2026-11-01T10:00:05.000Z', hostile(random)]);
  return message;
}

function segmentRequest(random: Random, index: number): FuzzRequest {
  const key = keyFor(random);
  const asText = random.chance(0.2);
  const headers: Record<string, string> = {
    'content-type': asText ? 'text/plain' : 'application/json',
    ...(key && { authorization: random.chance(0.9) ? `Basic ${Buffer.from(`${key}:`).toString('base64')}` : `Basic ${random.pick(['%%%', '', 'Og==', Buffer.from(hostile(random)).toString('base64')])}` }),
  };
  const shape = random.weighted([['message', 8], ['batch', 6], ['body not an object', 1], ['invalid JSON', 2], ['oversized', 0.2], ['unknown call', 1], ['wrong media type', 0.5], ['batch too long', 0.3]] as const);
  const call = random.pick(['track', 'identify', 'page', 'screen', 'group', 'alias'] as const);
  if (shape === 'unknown call') {
    const path = `/v1/${encodeURIComponent(random.pick(['trak', 'TRACK', 'batch2', 'import', '../health', 'constructor', '__proto__', 'toString', 'hasOwnProperty', hostile(random)]))}`;
    return { door: 'segment', flaw: `unknown call ${path}`, path, headers, body: JSON.stringify(baseMessage(random, index, 0)) };
  }
  if (shape === 'body not an object') {
    return { door: 'segment', flaw: 'body not an object', path: `/v1/${random.pick([call, 'batch'])}`, headers, body: JSON.stringify(random.pick([[baseMessage(random, index, 0)], 'track', 42, null, true])) };
  }
  if (shape === 'invalid JSON') {
    const text = JSON.stringify(baseMessage(random, index, 0));
    const body = random.pick([text.slice(0, random.int(1, text.length - 1)), `${text},`, text.replace(/"/g, "'"), `{"batch":[${text}],}`, `${text}\n${text}`, '', '{', 'undefined', `{"type":"track" /* comment */}`]);
    return { door: 'segment', flaw: 'invalid JSON', path: `/v1/${random.pick([call, 'batch'])}`, headers, body };
  }
  if (shape === 'oversized') {
    const batch = Array.from({ length: 2_000 }, (_, offset) => ({ ...baseMessage(random, index, offset), properties: { padding: 'x'.repeat(300) } }));
    return { door: 'segment', flaw: 'body over 500 KB', path: '/v1/batch', headers, body: JSON.stringify({ batch }) };
  }
  if (shape === 'wrong media type') {
    return { door: 'segment', flaw: 'form-encoded body', path: `/v1/${call}`, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: `type=track&event=Product+Viewed&userId=u-${index}` };
  }
  if (shape === 'batch too long') {
    const batch = Array.from({ length: 2_501 }, (_, offset) => ({ type: 'track', event: 'Page Viewed', userId: `fuzz-long-${index}`, messageId: `m-${index}-${offset}` }));
    return { door: 'segment', flaw: '2,501 messages', path: '/v1/batch', headers, body: JSON.stringify({ batch }) };
  }
  const count = shape === 'batch' ? random.weighted([[1, 3], [random.int(2, 30), 3], [random.int(31, 400), 1]] as const) : 1;
  const messages = Array.from({ length: count }, (_, offset) => baseMessage(random, index, offset));
  if (shape === 'message') messages[0]!.type = call;
  const broken = random.int(0, count - 1);
  // In a batch a context that is not an object is dropped (the batch's context is merged in), not refused: single calls only.
  const flaw = random.pick(segmentMessageFlaws.filter(({ name }) => name !== (shape === 'batch' ? 'context of the wrong shape' : 'unknown call type in a batch')));
  const raw = flaw.apply(messages[broken]!, random);
  const envelope = shape === 'batch' ? { batch: messages, ...(random.chance(0.3) && { context: { ip: hostile(random) } }) } : messages[0]!;
  let body = JSON.stringify(envelope);
  if (typeof raw === 'string') {
    const depth = Number(/__DEEP_(\d+)__/.exec(raw)![1]);
    (messages[broken]!.properties as Record<string, unknown>).nested = '__fuzz_deep__';
    body = JSON.stringify(shape === 'batch' ? { batch: messages } : messages[0]!).replace('"__fuzz_deep__"', random.chance(0.5) ? deepJson(depth) : deepArrayJson(depth));
  }
  // A single call takes its type from the path: a flaw that chose a call type chooses the path.
  const chosen = messages[0]!.type;
  const path = shape === 'batch' ? '/v1/batch' : `/v1/${typeof chosen === 'string' && Object.hasOwn(SEGMENT_CALLS, chosen) ? chosen : call}`;
  return { door: 'segment', flaw: `${flaw.name} (${shape}, message ${broken} of ${count})`, path, headers, body: withInvalidUtf8(random, body, 0.05) };
}

// ─── GraphQL read API ───────────────────────────────────────────────────────────────────────

/**
 * A cursor this API never gives out: not base64url JSON, the wrong shape or types, or an instant
 * or a revision PostgreSQL cannot take. (A well-formed key with plausible values is a valid
 * request: cursors are opaque, not signed.)
 */
function malformedCursor(random: Random, kind: 'customers' | 'timeline'): string {
  const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  const instant = '2026-11-01T10:00:00.000Z';
  const common = [
    [() => `${hostile(random)} ${hostile(random)}`, 2],
    [() => Buffer.from(`not json ${hostile(random)}`).toString('base64url'), 2],
    [() => json(random.pick([null, true, 42, { after: hostile(random) }, [], [1, 2, 3, 4], hostile(random)])), 2],
    [() => '', 1],
    [() => '%%%%', 1],
  ] as const;
  const specific =
    kind === 'customers'
      ? ([
          [() => json([random.pick([1, null, true, { id: 'x' }])]), 2],
          [() => json([hostile(random), hostile(random)]), 1],
          [() => json([random.pick(['x\u0000', 'nul\u0000 in the middle'])]), 2],
        ] as const)
      : ([
          [() => json([instant, hostile(random), random.pick([1.5, -0.5, '3', null])]), 1],
          [() => json([random.pick(['1', '2026', '2026-02-30', '0', '12/31/1999 25:00', '-271821-04-20T00:00:00Z', '275760-09-13']), 'c', 1]), 3],
          [() => json([instant, 'c', random.pick([1e300, 2 ** 63, -(2 ** 63) - 1e5])]), 2],
          [() => json([instant, 'c\u0000', 1]), 1],
          [() => json([instant, 'c']), 1],
        ] as const);
  return random.weighted<() => string>([...common, ...specific])();
}

interface ReadFlaw {
  name: string;
  /** A field (selection) that fails, and the variables it uses. */
  field(random: Random): { selection: string; variables?: Record<string, unknown>; declarations?: string };
}

const CUSTOMER_FIELDS = 'id stage metrics { events } channels';

const readFlaws: ReadFlaw[] = [
  { name: 'timeline first out of range', field: (random) => ({ selection: `broken: customer(id: $id) { id timeline(first: ${random.pick([-1, 501, 100000, 2147483647])}) { edges { cursor } } }`, declarations: '$id: ID!', variables: { id: `seed-${random.int(0, 4)}` } }) },
  { name: 'timeline bad cursor', field: (random) => ({ selection: 'broken: customer(id: $id) { timeline(first: 5, after: $after) { edges { cursor } } }', declarations: '$id: ID!, $after: String', variables: { id: `seed-${random.int(0, 4)}`, after: malformedCursor(random, 'timeline') } }) },
  { name: 'customers bad cursor', field: (random) => ({ selection: `broken: customers(first: 5, after: $after) { totalCount edges { cursor } }`, declarations: '$after: String', variables: { after: malformedCursor(random, 'customers') } }) },
  { name: 'customers first out of range', field: (random) => ({ selection: `broken: customers(first: ${random.pick([-5, 501, 1000000])}) { totalCount }` }) },
  { name: 'customers first of the wrong type', field: (random) => ({ selection: 'broken: customers(first: $first) { totalCount }', declarations: '$first: Int', variables: { first: random.pick(['ten', 1.5, 2 ** 40, true, [1]]) } }) },
  { name: 'unknown stage', field: (random) => ({ selection: 'broken: customers(stage: $stage) { totalCount }', declarations: '$stage: JourneyStage', variables: { stage: random.pick([hostile(random), 'discovery', 'LIVE', 3]) } }) },
  { name: 'unknown identity kind', field: (random) => ({ selection: 'broken: customerByIdentity(kind: $kind, value: $value) { id }', declarations: '$kind: IdentityKind!, $value: String!', variables: { kind: random.pick(['SSN', hostile(random), 'email', null]), value: hostile(random) } }) },
  { name: 'missing identity value', field: () => ({ selection: 'broken: customerByIdentity(kind: EMAIL) { id }' }) },
  { name: 'null customer id', field: () => ({ selection: 'broken: customer(id: $id) { id }', declarations: '$id: ID!', variables: { id: null } }) },
  { name: 'customer id of the wrong type', field: (random) => ({ selection: 'broken: customer(id: $id) { id }', declarations: '$id: ID!', variables: { id: random.pick([{ $ne: null }, [1], true, 1.5]) } }) },
  { name: 'bad funnel window', field: (random) => ({ selection: 'broken: journeyFunnel(from: $from, to: $to) { steps { stage entered } }', declarations: '$from: DateTime, $to: DateTime', variables: { from: random.pick([...BAD_TIMES.filter((time) => !time.startsWith('19') && !time.startsWith('20')), hostile(random)]), to: null } }) },
  { name: 'bad activity window', field: (random) => ({ selection: 'broken: dailyActivity(from: $from) { day events }', declarations: '$from: DateTime', variables: { from: random.pick(['2026-13-01T00:00:00Z', 'now', hostile(random), 1e20]) } }) },
  { name: 'access log with a bad first', field: (random) => ({ selection: 'broken: personalDataAccess(customerId: $id, first: $first) { at }', declarations: '$id: ID!, $first: Int', variables: { id: hostile(random), first: random.pick(['5', 1e12, -1.5]) } }) },
  { name: 'export without the permission', field: (random) => ({ selection: `broken: customerExport(id: ${JSON.stringify(hostile(random))})`, declarations: '' }) },
  { name: 'unknown field', field: (random) => ({ selection: `broken: customer(id: "x") { ${random.pick(['password', 'ssn', 'wrapped_key', '__proto__', 'email { value }'])} }` }) },
  { name: 'unknown argument', field: (random) => ({ selection: `broken: customers(${random.pick(['limit: 5', 'where: "1=1"', 'orderBy: "id; DROP TABLE x"'])}) { totalCount }` }) },
  { name: 'scalar with a selection', field: () => ({ selection: 'broken: stageCounts { stage { name } }' }) },
  { name: 'object without a selection', field: () => ({ selection: 'broken: customer(id: "x")' }) },
  { name: 'undeclared variable', field: () => ({ selection: 'broken: customer(id: $undeclared) { id }' }) },
  { name: 'bad directive argument', field: (random) => ({ selection: `broken: stageCounts @skip(if: ${random.pick(['"yes"', '1', 'null'])}) { stage }` }) },
  { name: 'projections without the permission', field: () => ({ selection: 'broken: projections { name lag }' }) },
];

/** Valid fields with hostile arguments, answered from the database: they must not fail, or fail cleanly. */
function probe(random: Random, index: number): string {
  const value = JSON.stringify(random.chance(0.15) ? `x${random.pick(BAD_STRINGS)}` : hostile(random));
  return random.pick([
    `p${index}: customer(id: ${value}) { ${CUSTOMER_FIELDS} }`,
    `p${index}: customerByIdentity(kind: ${random.pick(['EMAIL', 'PHONE', 'USER_ID', 'ANONYMOUS_ID', 'EXTERNAL'])}, value: ${value}) { id }`,
    `p${index}: customers(stage: ${random.pick(STAGES)}, first: ${random.int(0, 5)}) { totalCount edges { node { id } } }`,
    `p${index}: stageCounts { stage customers }`,
    `p${index}: dailyActivity(from: "2026-01-01T00:00:00Z", to: "2026-12-31T00:00:00Z") { day events }`,
    `p${index}: journeyFunnel(from: "2026-01-01T00:00:00Z") { steps { stage entered } }`,
    `p${index}: customer(id: "seed-${random.int(0, 4)}") { timeline(first: ${random.int(0, 5)}) { edges { cursor node { type properties } } } }`,
  ]);
}

function readRequest(random: Random, index: number): FuzzRequest {
  // Not the operator's key: its permissions make some of the flaws below (projections) valid.
  const key = random.weighted([[apiKeys.analyst, 5], [apiKeys.support, 3], [undefined, 1], ['wrong-key-000000000000', 1]] as const);
  const headers = { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) };
  const shape = random.weighted([['fields', 14], ['syntax', 2], ['depth bomb', 1], ['alias bomb', 1], ['batched', 0.5], ['not JSON', 1], ['query of the wrong type', 1]] as const);
  if (shape === 'syntax') {
    const query = random.pick(['{ customer(id: "x") { id }', '{ customer(id: "x" { id } }', `{ customer(id: ${hostile(random)}) { id } }`, '{ customers(first: 5) { edges { node { id } } } } }', 'query { ... }', '', '{ "customer": 1 }', `query Q($a: ) { stageCounts { stage } }`]);
    return { door: 'read', flaw: 'syntax error', path: '/graphql', headers, body: JSON.stringify({ query }) };
  }
  if (shape === 'depth bomb') {
    const depth = random.int(16, 300);
    const query = random.pick([
      // (Not introspection: outside production its depth is not counted, by design.)
      `{ customer(id: "seed-0") ${'{ timeline { edges { node '.repeat(depth)}{ id }${' } } }'.repeat(depth)} }`,
      'query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }',
    ]);
    return { door: 'read', flaw: `depth ${depth} or a fragment cycle`, path: '/graphql', headers, body: JSON.stringify({ query }) };
  }
  if (shape === 'alias bomb') {
    const count = random.int(21, 2_000);
    return { door: 'read', flaw: `${count} aliases`, path: '/graphql', headers, body: JSON.stringify({ query: `{ ${Array.from({ length: count }, (_, n) => `a${n}: stageCounts { stage }`).join(' ')} }` }) };
  }
  if (shape === 'batched') {
    return { door: 'read', flaw: 'batched operations', path: '/graphql', headers, body: JSON.stringify([{ query: '{ stageCounts { stage } }' }, { query: '{ eventTypes { name } }' }]) };
  }
  if (shape === 'not JSON') {
    return { door: 'read', flaw: 'not JSON', path: '/graphql', headers, body: random.pick(['{ stageCounts { stage } }', '{"query": "{ stageCounts { stage } }"', `{"query": ${deepArrayJson(random.int(10, 20_000))}}`, '\u0000']) };
  }
  if (shape === 'query of the wrong type') {
    return { door: 'read', flaw: 'query of the wrong type', path: '/graphql', headers, body: JSON.stringify({ query: random.pick([42, null, ['{ stageCounts { stage } }'], { q: 1 }]), variables: random.pick(['x', [1], 5, undefined]) }) };
  }
  const flaw = random.pick(readFlaws);
  const { selection, variables = {}, declarations = '' } = flaw.field(random);
  const probes = Array.from({ length: random.int(0, 3) }, (_, n) => probe(random, n));
  const fields = [...probes, selection].sort(() => (random.chance(0.5) ? 1 : -1));
  const query = `query Fuzz${declarations ? `(${declarations})` : ''} { ${fields.join(' ')} }`;
  const body = JSON.stringify({ query, variables, operationName: random.chance(0.95) ? 'Fuzz' : 'Other' });
  return { door: 'read', flaw: flaw.name, path: '/graphql', headers, body: withInvalidUtf8(random, body, 0.03) };
}
