import { parse as uuidBytes, v5 as uuidV5 } from 'uuid';
import type { EventCatalog } from '../catalog/index.js';
import type { Problem } from '../errors.js';
import type { JsonObject } from '../customer-event.js';

/** An event as a producer sends it (GraphQL `EventInput` or a Segment message), before any check. */
export interface IncomingEvent {
  id?: unknown;
  type?: unknown;
  userId?: unknown;
  anonymousId?: unknown;
  occurredAt?: unknown;
  channel?: unknown;
  properties?: unknown;
  traits?: unknown;
  context?: unknown;
}

/** An event that passed every rule, with its stored id and its time settled. */
export interface AcceptedEvent {
  /** A UUID: the producer's when it gave one, else derived from the producer's id, else new. */
  id: string;
  type: string;
  userId?: string;
  anonymousId?: string;
  occurredAt: string;
  channel?: string;
  properties: JsonObject;
  traits: JsonObject;
  context: JsonObject;
}

export const EVENT_SIZE_LIMIT = 32 * 1024;
const ID_LENGTH_LIMIT = 256;
const CHANNEL_LENGTH_LIMIT = 64;
const DEPTH_LIMIT = 24;
/** Producers' clocks run ahead at times; a day ahead is a wrong clock, not an event. */
const FUTURE_TOLERANCE_MS = 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Namespace of ids derived from producers' own idempotency keys (as bytes: uuid parses a text namespace on every call). */
const PRODUCER_ID_NAMESPACE = uuidBytes('b7f0b0a2-5d3c-4c41-9a44-3f1e2f1c9d11');

export interface CheckOptions {
  /** The server's clock when the request arrived (ISO 8601): the default time of an event. */
  receivedAt: string;
  newId: () => string;
}

/** Checks a batch: every problem of every event is reported, with the event's index. */
export function checkEvents(
  events: readonly IncomingEvent[],
  catalog: EventCatalog,
  options: CheckOptions,
): { accepted: AcceptedEvent[]; problems: Problem[] } {
  const accepted: AcceptedEvent[] = [];
  const problems: Problem[] = [];
  events.forEach((event, index) => {
    const { problems: eventProblems, occurredAt } = checkEvent(event, catalog, options.receivedAt);
    problems.push(...eventProblems.map((problem) => ({ index, ...problem })));
    if (eventProblems.length === 0) accepted.push(acceptedEvent(event, occurredAt ?? options.receivedAt, options.newId));
  });
  return { accepted: problems.length === 0 ? accepted : [], problems };
}

/** The stored id of an event: producers may use any string as an idempotency key. */
export function storedEventId(producerId: string): string {
  return UUID.test(producerId) ? producerId.toLowerCase() : nameBasedId(producerId, PRODUCER_ID_NAMESPACE);
}

/** A UUID v5 of well-formed text; the name goes to uuid as UTF-8 bytes, which uuid would otherwise make in JavaScript. */
function nameBasedId(name: string, namespace: Uint8Array): string {
  return uuidV5(Buffer.from(name, 'utf8'), namespace);
}

/** An event's problems, and its time as stored when it has one. */
function checkEvent(event: IncomingEvent, catalog: EventCatalog, receivedAt: string): { problems: Omit<Problem, 'index'>[]; occurredAt?: string } {
  if (!isObject(event)) return { problems: [{ field: 'event', rule: 'type', message: 'event must be an object' }] };
  const problems: Omit<Problem, 'index'>[] = [];
  const walk = { bytes: 0 };
  const unstorable = unstorableText(event, 0, walk);
  if (unstorable) return { problems: [unstorableProblem(unstorable)] };
  // The walk's bound settles nearly every event; only a large one is serialized to be measured.
  const size = walk.bytes <= EVENT_SIZE_LIMIT ? 0 : Buffer.byteLength(JSON.stringify(event), 'utf8');
  if (size > EVENT_SIZE_LIMIT) {
    problems.push({ field: 'event', rule: 'max_size', message: `event is ${size} bytes; at most ${EVENT_SIZE_LIMIT} are accepted` });
  }
  problems.push(...catalog.validate(event));
  const category = typeof event.type === 'string' ? catalog.categoryOf(event.type) : undefined;
  if (category === 'SYSTEM') {
    problems.push({ field: 'type', rule: 'reserved', message: `type "${String(event.type)}" is written by Trailmap itself, not by producers` });
  }
  for (const field of ['id', 'userId', 'anonymousId'] as const) problems.push(...identifierProblems(field, event[field]));
  if (isBlank(event.userId) && isBlank(event.anonymousId)) {
    problems.push({ field: 'userId', rule: 'required', message: 'userId or anonymousId is required' });
  }
  if (event.type === 'Identity Linked') {
    if (isBlank(event.userId)) problems.push({ field: 'userId', rule: 'required', message: 'userId is required to link identities' });
    if (isBlank(linkedAnonymousId(event))) {
      problems.push({ field: 'properties.previous_id', rule: 'required', message: 'properties.previous_id (the anonymous id to link) is required' });
    }
  }
  if (event.channel !== undefined && event.channel !== null) {
    if (typeof event.channel !== 'string' || event.channel.length === 0 || event.channel.length > CHANNEL_LENGTH_LIMIT) {
      problems.push({ field: 'channel', rule: 'type', message: `channel must be a string of 1 to ${CHANNEL_LENGTH_LIMIT} characters` });
    }
  }
  if (event.occurredAt === undefined || event.occurredAt === null) return { problems };
  const occurredAt = toInstant(event.occurredAt);
  problems.push(...timeProblems(occurredAt, receivedAt));
  return { problems, occurredAt };
}

function acceptedEvent(event: IncomingEvent, occurredAt: string, newId: () => string): AcceptedEvent {
  const properties = (event.properties ?? {}) as JsonObject;
  const anonymousId = optionalText(event.anonymousId) ?? (event.type === 'Identity Linked' ? linkedAnonymousId(event) : undefined);
  return {
    id: isBlank(event.id) ? newId() : storedEventId(String(event.id)),
    type: event.type as string,
    ...(optionalText(event.userId) !== undefined && { userId: optionalText(event.userId) }),
    ...(anonymousId !== undefined && { anonymousId }),
    occurredAt,
    ...(optionalText(event.channel) !== undefined && { channel: optionalText(event.channel) }),
    properties,
    traits: (event.traits ?? {}) as JsonObject,
    context: (event.context ?? {}) as JsonObject,
  };
}

/** The anonymous id an `Identity Linked` event links: Segment's alias `previousId`. */
export function linkedAnonymousId(event: IncomingEvent): string | undefined {
  const properties = isObject(event.properties) ? event.properties : {};
  return optionalText(properties.previous_id) ?? optionalText(event.anonymousId);
}

function identifierProblems(field: string, value: unknown): Omit<Problem, 'index'>[] {
  if (value === undefined || value === null) return [];
  if ((typeof value !== 'string' && typeof value !== 'number') || String(value).trim().length === 0) {
    return [{ field, rule: 'type', message: `${field} must be a non-empty string` }];
  }
  if (String(value).length > ID_LENGTH_LIMIT) {
    return [{ field, rule: 'max_length', message: `${field} must be at most ${ID_LENGTH_LIMIT} characters` }];
  }
  return [];
}

function timeProblems(instant: string | undefined, receivedAt: string): Omit<Problem, 'index'>[] {
  if (!instant) return [{ field: 'occurredAt', rule: 'format', message: 'occurredAt must be an ISO 8601 date-time' }];
  const time = Date.parse(instant);
  if (time < Date.UTC(1970, 0, 1) || time > Date.parse(receivedAt) + FUTURE_TOLERANCE_MS) {
    return [{ field: 'occurredAt', rule: 'range', message: 'occurredAt must be after 1970 and at most a day ahead of the server clock' }];
  }
  return [];
}

function toInstant(value: unknown): string | undefined {
  const date = value instanceof Date ? value : typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? new Date(value) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined;
}

/** Where a value is unstorable, as steps from the event (keys and indexes), and which rule it breaks. */
interface Unstorable {
  rule: 'max_depth' | 'invalid_character';
  steps: (string | number)[];
}

/**
 * PostgreSQL's jsonb refuses NUL and lone surrogates; deep nesting is refused before it costs anything.
 * The path is built only on the way back from a problem: a storable event (the usual case) costs one walk.
 * The same walk adds up a bound on the value's size as UTF-8 JSON in `walk.bytes`: at most six bytes a
 * character of text (`\uXXXX`), 30 a number or a date, and the punctuation; a value that serializes itself counts as unbounded.
 */
function unstorableText(value: unknown, depth: number, walk: { bytes: number }): Unstorable | undefined {
  if (depth > DEPTH_LIMIT) return { rule: 'max_depth', steps: [] };
  if (typeof value === 'string') {
    walk.bytes += 2 + 6 * value.length;
    // Most text has no NUL and no surrogate at all: only then is the exact rule worth running.
    const invalid = /[\u0000\ud800-\udfff]/.test(value) && /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value);
    return invalid ? { rule: 'invalid_character', steps: [] } : undefined;
  }
  if (typeof value !== 'object' || value === null || value instanceof Date) {
    walk.bytes += 30;
    return undefined;
  }
  walk.bytes += 2;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      walk.bytes += 1;
      const problem = unstorableText(value[index], depth + 1, walk);
      if (problem) {
        problem.steps.unshift(index);
        return problem;
      }
    }
  } else if (isObject(value) && typeof (value as { toJSON?: unknown }).toJSON !== 'function') {
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      walk.bytes += 2;
      // A key breaking a rule is reported at the object that holds it.
      const problem = unstorableText(key, depth + 1, walk);
      if (problem) return problem;
      const inner = unstorableText(value[key], depth + 1, walk);
      if (inner) {
        inner.steps.unshift(key);
        return inner;
      }
    }
  } else {
    walk.bytes = Number.POSITIVE_INFINITY;
  }
  return undefined;
}

function unstorableProblem({ rule, steps }: Unstorable): Omit<Problem, 'index'> {
  let path = 'event';
  for (const step of steps) path = typeof step === 'number' ? `${path}[${step}]` : path === 'event' ? step : `${path}.${step}`;
  return rule === 'max_depth'
    ? { field: path, rule, message: `${path} is nested deeper than ${DEPTH_LIMIT} levels` }
    : { field: path, rule, message: `${path} contains a NUL character or invalid UTF-16` };
}

function optionalText(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value).trim() || undefined : undefined;
}

function isBlank(value: unknown): boolean {
  return optionalText(value) === undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
