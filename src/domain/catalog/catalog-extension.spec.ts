import { InvalidCatalogExtension, parseCatalogExtension } from './catalog-extension.js';
import { defaultEventTypes } from './default-catalog.js';
import { contextPiiFields, createCatalog } from './event-catalog.js';
import type { ValidationProblem } from './json-schema.js';

function problemsOf(json: unknown): readonly ValidationProblem[] {
  try {
    parseCatalogExtension(json);
  } catch (error) {
    if (error instanceof InvalidCatalogExtension) return error.problems;
    throw error;
  }
  throw new Error('expected the catalog file to be rejected');
}

const quoteRequested = {
  name: 'Quote Requested',
  category: 'CONVERSION',
  version: 1,
  schema: {
    type: 'object',
    required: ['plan'],
    additionalProperties: false,
    properties: { plan: { enum: ['basic', 'pro'] }, seats: { type: 'integer', minimum: 1 }, notes: { type: 'string' } },
  },
  piiFields: ['properties.notes'],
};

const stricterOrderCompleted = {
  name: 'Order Completed',
  category: 'CONVERSION',
  version: 2,
  schema: { type: 'object', required: ['order_id', 'currency'], properties: { order_id: { type: 'string' } } },
};

describe('parsing an operator catalog file', () => {
  it('reads its event types, with an open object schema and no personal data when it gives none', () => {
    const file = { eventTypes: [{ name: 'Store Visited', category: 'ENGAGEMENT', version: 1 }] };
    expect(parseCatalogExtension(file)).toEqual([
      { name: 'Store Visited', category: 'ENGAGEMENT', version: 1, schema: { type: 'object' }, piiFields: [] },
    ]);
  });

  it('reads an empty file as no change', () => {
    expect(parseCatalogExtension({ eventTypes: [] })).toEqual([]);
  });

  it('rejects a file that is not a JSON object', () => {
    expect(problemsOf([quoteRequested])).toEqual([
      { field: 'catalog', rule: 'type', message: 'catalog must be a JSON object with an "eventTypes" array' },
    ]);
  });

  it('rejects a file without eventTypes, or with fields it does not know', () => {
    expect(problemsOf({ types: [] })).toEqual([
      { field: 'eventTypes', rule: 'required', message: 'eventTypes is required' },
      { field: 'types', rule: 'unknown_field', message: 'types is not a known field' },
    ]);
  });

  it('reports every problem of every entry, naming the entry and the field', () => {
    const problems = problemsOf({
      eventTypes: [
        quoteRequested,
        { name: 'Store Visited', category: 'IN_STORE', version: 0, piiField: ['properties.staff'] },
        { category: 'RETENTION', version: 1, piiFields: ['email'] },
      ],
    });
    expect(problems).toEqual([
      {
        field: 'eventTypes[1].piiField',
        rule: 'unknown_field',
        message: 'eventTypes[1].piiField is not a known field (event type "Store Visited")',
      },
      {
        field: 'eventTypes[1].category',
        rule: 'enum',
        message:
          'eventTypes[1].category must be one of: "DISCOVERY", "ENGAGEMENT", "CONVERSION", "POST_PURCHASE", "RETENTION", "IDENTITY", "SYSTEM" (event type "Store Visited")',
      },
      {
        field: 'eventTypes[1].version',
        rule: 'minimum',
        message: 'eventTypes[1].version must be at least 1 (event type "Store Visited")',
      },
      { field: 'eventTypes[2].name', rule: 'required', message: 'eventTypes[2].name is required' },
      {
        field: 'eventTypes[2].piiFields[0]',
        rule: 'format',
        message:
          'eventTypes[2].piiFields[0] must be a dotted path into properties, traits or context, such as properties.shipping_address',
      },
    ]);
  });

  it('rejects a schema that is not for an object', () => {
    expect(problemsOf({ eventTypes: [{ ...quoteRequested, schema: { type: 'array' } }] })).toEqual([
      {
        field: 'eventTypes[0].schema.type',
        rule: 'const',
        message: 'eventTypes[0].schema.type must be "object" (event type "Quote Requested")',
      },
    ]);
  });

  it('rejects a schema that Ajv cannot compile, with its reason', () => {
    const broken = { type: 'object', properties: { seats: { type: 'integer', minimun: 1 } } };
    expect(problemsOf({ eventTypes: [{ ...quoteRequested, schema: broken }] })).toEqual([
      {
        field: 'eventTypes[0].schema',
        rule: 'schema',
        message: expect.stringMatching(
          /^eventTypes\[0\]\.schema is not a valid JSON Schema: .*minimun.*\(event type "Quote Requested"\)$/,
        ),
      },
    ]);
  });

  it('rejects a type named twice', () => {
    expect(problemsOf({ eventTypes: [quoteRequested, { ...quoteRequested, version: 2 }] })).toEqual([
      {
        field: 'eventTypes[1].name',
        rule: 'duplicate',
        message: 'eventTypes[1].name repeats eventTypes[0].name (event type "Quote Requested")',
      },
    ]);
  });
});

describe('a catalog extended by an operator file', () => {
  const catalog = createCatalog(
    defaultEventTypes,
    parseCatalogExtension({ eventTypes: [quoteRequested, stricterOrderCompleted] }),
  );

  it('describes the added types with their personal data', () => {
    expect(catalog.categoryOf('Quote Requested')).toBe('CONVERSION');
    expect(catalog.get('Quote Requested')?.piiFields).toEqual(['properties.notes', ...contextPiiFields]);
  });

  it('validates the added types with their own rules', () => {
    const event = { type: 'Quote Requested', properties: { plan: 'gold', seats: 2, colour: 'red' } };
    expect(catalog.validate(event)).toEqual([
      {
        field: 'properties.colour',
        rule: 'unknown_field',
        message: 'properties.colour is not a known field',
      },
      { field: 'properties.plan', rule: 'enum', message: 'properties.plan must be one of: "basic", "pro"' },
    ]);
  });

  it('replaces a default type it names, in its place in the list', () => {
    expect(catalog.get('Order Completed')?.version).toBe(2);
    expect(catalog.validate({ type: 'Order Completed', properties: { order_id: 'o-1' } })).toEqual([
      { field: 'properties.currency', rule: 'required', message: 'properties.currency is required' },
    ]);
    const names = catalog.list().map((eventType) => eventType.name);
    const defaultNames = defaultEventTypes.map((eventType) => eventType.name);
    expect(names.indexOf('Order Completed')).toBe(defaultNames.indexOf('Order Completed'));
    expect(names.at(-1)).toBe('Quote Requested');
  });
});
