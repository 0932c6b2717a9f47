import type { Ajv } from 'ajv';
import { eventCategories, type EventTypeDefinition } from './event-catalog.js';
import { createSchemaCompiler, problemsAt, type JsonSchema, type ValidationProblem } from './json-schema.js';

export class InvalidCatalogExtension extends Error {
  constructor(readonly problems: readonly ValidationProblem[]) {
    super(`Invalid event catalog extension:\n${problems.map((problem) => problem.message).join('\n')}`);
    this.name = 'InvalidCatalogExtension';
  }
}

const objectSchema = { type: 'object', required: ['type'], properties: { type: { const: 'object' } } };

/** An operator's catalog file: `{ "eventTypes": [{ name, category, version, schema?, traitsSchema?, piiFields? }] }` */
const catalogFileSchema = {
  type: 'object',
  required: ['eventTypes'],
  additionalProperties: false,
  properties: {
    eventTypes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'category', 'version'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1 },
          category: { enum: eventCategories },
          version: { type: 'integer', minimum: 1 },
          schema: objectSchema,
          traitsSchema: objectSchema,
          piiFields: { type: 'array', items: { type: 'string', format: 'pii-path' } },
        },
      },
    },
  },
};

interface CatalogFileEntry {
  name: string;
  category: EventTypeDefinition['category'];
  version: number;
  schema?: JsonSchema;
  traitsSchema?: JsonSchema;
  piiFields?: string[];
}

/**
 * The event types of an operator's catalog file, already parsed from JSON. A type named like a default
 * type replaces it whole. Throws InvalidCatalogExtension with every problem, each naming the entry.
 */
export function parseCatalogExtension(json: unknown): EventTypeDefinition[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidCatalogExtension([
      { field: 'catalog', rule: 'type', message: 'catalog must be a JSON object with an "eventTypes" array' },
    ]);
  }
  const compiler = createSchemaCompiler();
  const shapeProblems = problemsAt('', compiler.compile(catalogFileSchema), json);
  if (shapeProblems.length > 0) throw new InvalidCatalogExtension(shapeProblems.map(namingEntry(json)));

  const entries = (json as { eventTypes: CatalogFileEntry[] }).eventTypes;
  const problems = entries.flatMap((entry, index) => [
    ...duplicateProblems(entries, index),
    ...schemaProblems(compiler, `eventTypes[${index}].schema`, entry.schema),
    ...schemaProblems(compiler, `eventTypes[${index}].traitsSchema`, entry.traitsSchema),
  ]);
  if (problems.length > 0) throw new InvalidCatalogExtension(problems.map(namingEntry(json)));

  return entries.map(({ name, category, version, schema, traitsSchema, piiFields }) => ({
    name,
    category,
    version,
    schema: schema ?? { type: 'object' },
    ...(traitsSchema ? { traitsSchema } : {}),
    piiFields: piiFields ?? [],
  }));
}

function duplicateProblems(entries: CatalogFileEntry[], index: number): ValidationProblem[] {
  const first = entries.findIndex((entry) => entry.name === entries[index].name);
  if (first === index) return [];
  const field = `eventTypes[${index}].name`;
  return [{ field, rule: 'duplicate', message: `${field} repeats eventTypes[${first}].name` }];
}

function schemaProblems(
  compiler: Ajv,
  field: string,
  schema: JsonSchema | undefined,
): ValidationProblem[] {
  if (schema === undefined) return [];
  try {
    compiler.compile(schema);
    return [];
  } catch (error) {
    return [{ field, rule: 'schema', message: `${field} is not a valid JSON Schema: ${(error as Error).message}` }];
  }
}

/** Adds the entry's name to the message, so an operator finds it in a long file. */
function namingEntry(json: object): (problem: ValidationProblem) => ValidationProblem {
  const entries = (json as { eventTypes?: unknown }).eventTypes;
  return (problem) => {
    const index = /^eventTypes\[(\d+)\]/.exec(problem.field)?.[1];
    const entry = Array.isArray(entries) && index !== undefined ? entries[Number(index)] : undefined;
    const name = (entry as { name?: unknown } | null | undefined)?.name;
    return typeof name === 'string' ? { ...problem, message: `${problem.message} (event type "${name}")` } : problem;
  };
}
