import type { EventCatalog } from './event-catalog.js';
import type { JsonSchema } from './json-schema.js';

export type JsonObject = Record<string, unknown>;

/** The parts of an event that may hold personal data. */
export interface EventSections {
  properties?: JsonObject;
  traits?: JsonObject;
  context?: JsonObject;
}

export type EventSection = keyof EventSections;

/**
 * Personal values keyed by where they were found: `traits.email`, `properties.shipping_address`,
 * `properties.products[2].engraving` (a catalog path crossing an array names a value in each element).
 */
export type PersonalData = Record<string, unknown>;

/**
 * The event without its personal values, and those values by location; URLs keep their address in
 * the plain event, their query string and fragment go with the personal values. A catalog path naming an array
 * removes the whole array; a path continuing into an array removes that field from each element.
 */
export function splitPersonalData<Event extends EventSections>(
  catalog: EventCatalog,
  type: string,
  event: Event,
): { plain: Event; personal: PersonalData } {
  const personal: PersonalData = {};
  const withoutPaths = extract(event, pathTreeOf(catalog.piiFieldsOf(type)), '', personal);
  // Query strings and fragments of URLs carry whatever a site put there (emails, tokens): the plain part keeps the address only.
  const plain = withoutUrlQueries(withoutPaths, '', personal);
  return { plain: plain as Event, personal };
}

/** The sections that personal values were taken from, in a fixed order. */
export function sectionsOf(personal: PersonalData): EventSection[] {
  const found = new Set(Object.keys(personal).map((location) => location.split(/[.[]/, 1)[0]));
  return eventSections.filter((section) => found.has(section));
}

const eventSections: readonly EventSection[] = ['context', 'properties', 'traits'];

/** A type's personal paths as a tree of fields. A field taken whole ends its branch: what it holds goes with it, recorded once. */
type PathTree = Map<string, PathTree | 'whole'>;

function pathTreeOf(paths: readonly string[]): PathTree {
  let tree = pathTrees.get(paths);
  if (tree) return tree;
  tree = new Map();
  for (const segments of paths.map((path) => path.split('.')).sort((a, b) => a.length - b.length)) {
    let node = tree;
    for (const [depth, field] of segments.entries()) {
      const branch = node.get(field);
      if (branch === 'whole') break;
      if (depth === segments.length - 1) {
        node.set(field, 'whole');
        break;
      }
      if (!branch) node.set(field, new Map());
      node = node.get(field) as PathTree;
    }
  }
  pathTrees.set(paths, tree);
  return tree;
}

const pathTrees = new WeakMap<readonly string[], PathTree>();

/** The event as it was before splitPersonalData: `mergePersonalData(split.plain, split.personal)`. */
export function mergePersonalData<Event extends EventSections>(plain: Event, personal: PersonalData): Event {
  const locations = Object.keys(personal).map((location) => ({ location, segments: segmentsOf(location) }));
  locations.sort((a, b) => a.segments.length - b.segments.length);
  return locations.reduce(
    (event, { location, segments }) => place(event, segments, personal[location]),
    plain as unknown,
  ) as Event;
}

/**
 * What analytics may keep of an event's properties: only the fields the type's schema declares (and the
 * declared fields of objects inside them and of array items), no personal data or free text, and URLs
 * without query string or fragment. Types the catalog does not describe keep nothing.
 */
export function analyticsProperties(
  catalog: EventCatalog,
  type: string,
  properties: JsonObject | undefined,
): JsonObject {
  const eventType = catalog.get(type);
  if (!eventType || !properties) return {};
  return declaredFields(eventType.schema, properties, 'properties', piiSetOf(eventType.piiFields));
}

// Every event of every analytics batch comes through here: a type's paths and a schema's fields are listed once.
const piiSets = new WeakMap<readonly string[], ReadonlySet<string>>();
const declaredEntries = new WeakMap<JsonSchema, [string, JsonSchema][]>();

function piiSetOf(paths: readonly string[]): ReadonlySet<string> {
  let set = piiSets.get(paths);
  if (!set) piiSets.set(paths, (set = new Set(paths)));
  return set;
}

function declaredFields(schema: JsonSchema, value: JsonObject, path: string, pii: ReadonlySet<string>): JsonObject {
  let declared = declaredEntries.get(schema);
  if (!declared) declaredEntries.set(schema, (declared = isObject(schema.properties) ? Object.entries(schema.properties as Record<string, JsonSchema>) : []));
  const kept: JsonObject = {};
  for (const [field, fieldSchema] of declared) {
    if (!Object.hasOwn(value, field)) continue;
    const described = describedValue(fieldSchema, value[field], field, `${path}.${field}`, pii);
    if (described !== undefined) kept[field] = described;
  }
  return kept;
}

function describedValue(schema: JsonSchema, value: unknown, field: string, path: string, pii: ReadonlySet<string>): unknown {
  if (pii.has(path)) return undefined;
  if (Array.isArray(value)) {
    const items = isObject(schema.items) ? (schema.items as JsonSchema) : {};
    return value
      .map((element) => describedValue(items, element, field, path, pii))
      .filter((element) => element !== undefined);
  }
  // An object counts only through the fields its schema declares.
  if (isObject(value)) return isObject(schema.properties) ? declaredFields(schema, value, path, pii) : undefined;
  if (typeof value === 'string' && isUrlField(field)) return value.split(/[?#]/, 1)[0];
  return value;
}

function isUrlField(field: string): boolean {
  return field === 'url' || field === 'referrer' || field === 'path' || field.endsWith('_url');
}

/** Copies only what changes: a value without such URLs is returned as it is. */
function withoutUrlQueries(value: unknown, location: string, personal: PersonalData): unknown {
  if (Array.isArray(value)) {
    const elements = value.map((element, index) => withoutUrlQueries(element, `${location}[${index}]`, personal));
    return elements.some((element, index) => element !== value[index]) ? elements : value;
  }
  if (!isObject(value)) return value;
  let copy: JsonObject | undefined;
  for (const field of Object.keys(value)) {
    const inner = value[field];
    if (typeof inner !== 'object' && typeof inner !== 'string') continue;
    const path = location ? `${location}.${field}` : field;
    let kept: unknown = inner;
    if (typeof inner === 'string') {
      if (!isUrlField(field) || !/[?#]/.test(inner)) continue;
      personal[path] = inner;
      kept = inner.split(/[?#]/, 1)[0];
    } else {
      kept = withoutUrlQueries(inner, path, personal);
      if (kept === inner) continue;
    }
    copy ??= { ...value };
    // Defined, not assigned: a field named "__proto__" must stay a field.
    Object.defineProperty(copy, field, { value: kept, writable: true, enumerable: true, configurable: true });
  }
  return copy ?? value;
}

const TAKEN = Symbol('taken');

/** The value without the tree's fields, recorded in `personal`; an object is copied once, and only when something was taken from it. */
function extract(value: unknown, tree: PathTree, location: string, personal: PersonalData): unknown {
  if (Array.isArray(value)) {
    const elements = value.map((element, index) => extract(element, tree, `${location}[${index}]`, personal));
    return elements.some((element, index) => element !== value[index]) ? elements : value;
  }
  if (!isObject(value)) return value;
  let changes: Map<string, unknown> | undefined;
  for (const [field, branch] of tree) {
    if (!Object.hasOwn(value, field)) continue;
    const path = location ? `${location}.${field}` : field;
    if (branch === 'whole') {
      personal[path] = value[field];
      (changes ??= new Map()).set(field, TAKEN);
      continue;
    }
    const inner = extract(value[field], branch, path, personal);
    if (inner !== value[field]) (changes ??= new Map()).set(field, inner);
  }
  if (!changes) return value;
  const copy: JsonObject = {};
  for (const field of Object.keys(value)) {
    const kept = changes.has(field) ? changes.get(field) : value[field];
    if (kept === TAKEN) continue;
    // Defined, not assigned: a field named "__proto__" must stay a field.
    if (field === '__proto__') Object.defineProperty(copy, field, { value: kept, writable: true, enumerable: true, configurable: true });
    else copy[field] = kept;
  }
  return copy;
}

type Segment = string | number;

function segmentsOf(location: string): Segment[] {
  return (location.match(/[^.[\]]+|\[\d+\]/g) ?? []).map((token) =>
    token.startsWith('[') ? Number(token.slice(1, -1)) : token,
  );
}

function place(container: unknown, [segment, ...rest]: Segment[], value: unknown): unknown {
  const fresh = typeof segment === 'number' ? [] : {};
  const copy = Array.isArray(container) ? [...container] : isObject(container) ? { ...container } : fresh;
  const slots = copy as Record<Segment, unknown>;
  slots[segment] = rest.length === 0 ? value : place(slots[segment], rest, value);
  return copy;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
