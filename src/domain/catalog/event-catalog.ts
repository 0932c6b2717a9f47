import type { ValidateFunction } from 'ajv';
import { createSchemaCompiler, problemsAt, type JsonSchema, type ValidationProblem } from './json-schema.js';

export const eventCategories = [
  'DISCOVERY',
  'ENGAGEMENT',
  'CONVERSION',
  'POST_PURCHASE',
  'RETENTION',
  'IDENTITY',
  'SYSTEM',
] as const;
export type EventCategory = (typeof eventCategories)[number];

export interface EventTypeDefinition {
  readonly name: string;
  readonly category: EventCategory;
  /** Bumped whenever the schema or piiFields change; stored with each event as its schema version. */
  readonly version: number;
  /** JSON Schema (draft-07) that the event's `properties` must satisfy. */
  readonly schema: JsonSchema;
  /** JSON Schema for `traits`, for the types that carry them (`Identified`, `Signed Up`, `Group Identified`). */
  readonly traitsSchema?: JsonSchema;
  /** Paths holding personal data, free text included: `traits.email`, `properties.review_body`. */
  readonly piiFields: readonly string[];
}

export interface CatalogOptions {
  /** Accept types the catalog does not describe, in category ENGAGEMENT, instead of rejecting them. */
  readonly allowUnknownTypes?: boolean;
}

/** An event as a producer sent it, before validation. */
export interface UncheckedEvent {
  readonly type?: unknown;
  readonly properties?: unknown;
  readonly traits?: unknown;
  readonly context?: unknown;
}

export interface EventCatalog {
  readonly allowsUnknownTypes: boolean;
  /** The type as the catalog describes it (piiFields include the catalog-wide paths), or undefined. */
  get(type: string): EventTypeDefinition | undefined;
  /** Every described type, defaults first, then the types extensions add. */
  list(): readonly EventTypeDefinition[];
  describes(type: string): boolean;
  /** The type's category; ENGAGEMENT for an undescribed type the catalog accepts; undefined for one it rejects. */
  categoryOf(type: string): EventCategory | undefined;
  /** Paths to keep out of the plain log; for an undescribed type, its whole properties and traits. */
  piiFieldsOf(type: string): readonly string[];
  /** Every problem with the event, or none. */
  validate(event: UncheckedEvent): ValidationProblem[];
}

/** Personal data wherever a Segment client puts it in the context, whatever the event type. */
export const contextPiiFields: readonly string[] = [
  'context.ip',
  'context.traits',
  'context.location',
  'context.device.advertisingId',
];

export const undescribedCategory: EventCategory = 'ENGAGEMENT';

// Nothing says what an undescribed type carries, so all of it is treated as personal.
const undescribedPiiFields = ['properties', 'traits', ...contextPiiFields];

const anyObject: JsonSchema = { type: 'object' };

const text = { type: 'string' };
const contextSchema: JsonSchema = {
  type: 'object',
  properties: {
    ip: text,
    locale: text,
    timezone: text,
    userAgent: text,
    page: { type: 'object', properties: { path: text, referrer: text, search: text, title: text, url: text } },
    campaign: { type: 'object', properties: { name: text, source: text, medium: text, term: text, content: text } },
    traits: anyObject,
    location: anyObject,
    device: anyObject,
  },
};

interface CompiledType {
  readonly definition: EventTypeDefinition;
  readonly properties: ValidateFunction;
  readonly traits: ValidateFunction;
}

/** The base types, each overridden or joined by the extensions' types of the same name. */
export function createCatalog(
  base: readonly EventTypeDefinition[],
  extensions: readonly EventTypeDefinition[] = [],
  options: CatalogOptions = {},
): EventCatalog {
  const compiler = createSchemaCompiler();
  const anyObjectValidator = compiler.compile(anyObject);
  const contextValidator = compiler.compile(contextSchema);
  const types = new Map<string, CompiledType>();
  for (const definition of [...base, ...extensions]) {
    types.set(definition.name, {
      definition: { ...definition, piiFields: [...new Set([...definition.piiFields, ...contextPiiFields])] },
      properties: compiler.compile(definition.schema),
      traits: definition.traitsSchema ? compiler.compile(definition.traitsSchema) : anyObjectValidator,
    });
  }
  const allowsUnknownTypes = options.allowUnknownTypes ?? false;
  const list = [...types.values()].map(({ definition }) => definition);

  return {
    allowsUnknownTypes,
    get: (type) => types.get(type)?.definition,
    list: () => list,
    describes: (type) => types.has(type),
    categoryOf: (type) =>
      types.get(type)?.definition.category ?? (allowsUnknownTypes ? undescribedCategory : undefined),
    piiFieldsOf: (type) => types.get(type)?.definition.piiFields ?? undescribedPiiFields,
    validate(event) {
      const described = typeof event.type === 'string' ? types.get(event.type) : undefined;
      return [
        ...typeProblems(event.type, described !== undefined || allowsUnknownTypes),
        ...problemsAt('properties', described?.properties ?? anyObjectValidator, event.properties),
        ...problemsAt('traits', described?.traits ?? anyObjectValidator, event.traits),
        ...problemsAt('context', contextValidator, event.context),
      ];
    },
  };
}

function typeProblems(type: unknown, accepted: boolean): ValidationProblem[] {
  if (type === undefined || type === null || type === '') {
    return [{ field: 'type', rule: 'required', message: 'type is required' }];
  }
  if (typeof type !== 'string') return [{ field: 'type', rule: 'type', message: 'type must be a string' }];
  if (accepted) return [];
  return [{ field: 'type', rule: 'unknown_event_type', message: `type "${type}" is not an event type in the catalog` }];
}
