import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';

/** A JSON Schema (draft-07) as plain data. */
export type JsonSchema = { readonly [keyword: string]: unknown };

export interface ValidationProblem {
  /** Where the problem is: `type`, `properties.order_id`, `properties.products[0].price`, `eventTypes[2].category`. */
  readonly field: string;
  /** A short, stable keyword: `required`, `type`, `format`, `minimum`, `enum`, `unknown_event_type`, … */
  readonly rule: string;
  /** One sentence naming the field and the rule. */
  readonly message: string;
}

const formatDescriptions: Record<string, string> = {
  'currency-code': 'a 3-letter currency code (ISO 4217)',
  'pii-path': 'a dotted path into properties, traits or context, such as properties.shipping_address',
  email: 'an email address',
  'date-time': 'an ISO 8601 date-time',
  date: 'an ISO 8601 date (YYYY-MM-DD)',
  uri: 'an absolute URI',
};

/** An Ajv that reports every problem and knows the formats catalog schemas may use. */
export function createSchemaCompiler(): Ajv {
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, logger: false });
  formats.default(ajv);
  ajv.addFormat('currency-code', /^[A-Za-z]{3}$/);
  ajv.addFormat('pii-path', /^(properties|traits|context)(\.[^.[\]]+)+$/);
  return ajv;
}

/** Validates the value found at `root` (an absent one as `{}`), naming each problem's field from `root`. */
export function problemsAt(root: string, validate: ValidateFunction, value: unknown): ValidationProblem[] {
  if (validate(value ?? {})) return [];
  return (validate.errors ?? []).map((error) => problemOf(root, error));
}

function problemOf(root: string, error: ErrorObject): ValidationProblem {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (error.keyword === 'required') segments.push(error.params.missingProperty);
  if (error.keyword === 'additionalProperties') segments.push(error.params.additionalProperty);
  const field = segments.reduce(
    (path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment),
    root,
  );
  return { field, rule: ruleOf(error.keyword), message: messageOf(field, error) };
}

function ruleOf(keyword: string): string {
  if (keyword === 'additionalProperties') return 'unknown_field';
  return keyword.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function messageOf(field: string, { keyword, params, message }: ErrorObject): string {
  switch (keyword) {
    case 'required':
      return `${field} is required`;
    case 'type':
      return `${field} must be ${String(params.type).split(',').map(withArticle).join(' or ')}`;
    case 'format':
      return `${field} must be ${formatDescriptions[params.format] ?? `in the ${params.format} format`}`;
    case 'minimum':
      return `${field} must be at least ${params.limit}`;
    case 'maximum':
      return `${field} must be at most ${params.limit}`;
    case 'exclusiveMinimum':
      return `${field} must be greater than ${params.limit}`;
    case 'exclusiveMaximum':
      return `${field} must be less than ${params.limit}`;
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((value) => JSON.stringify(value));
      return `${field} must be one of: ${allowed.join(', ')}`;
    }
    case 'const':
      return `${field} must be ${JSON.stringify(params.allowedValue)}`;
    case 'pattern':
      return `${field} must match the pattern ${params.pattern}`;
    case 'minLength':
      return `${field} must be at least ${params.limit} characters long`;
    case 'maxLength':
      return `${field} must be at most ${params.limit} characters long`;
    case 'minItems':
      return `${field} must have at least ${params.limit} items`;
    case 'maxItems':
      return `${field} must have at most ${params.limit} items`;
    case 'additionalProperties':
      return `${field} is not a known field`;
    default:
      return `${field} ${message ?? `breaks the ${keyword} rule`}`;
  }
}

function withArticle(type: string): string {
  if (type === 'null') return 'null';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
