import { ValidationFailed } from '../../domain/errors.js';

/** Opaque page cursors: the sort key of the last item, as base64url JSON. */
export function encodeCursor(key: (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The key in a cursor, checked against the shape its query gives out (its parts' types). */
export function decodeCursor(cursor: string, field: string, shape: readonly ('string' | 'number' | 'instant')[]): (string | number)[] {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    // As the API writes them (toISOString, safe integers, text without NUL): anything else would fail in PostgreSQL, not here.
    const fits = (part: unknown, kind: (typeof shape)[number]) =>
      kind === 'instant'
        ? typeof part === 'string' && ISO_INSTANT.test(part) && new Date(part).toISOString() === part
        : kind === 'number'
          ? Number.isSafeInteger(part)
          : typeof part === 'string' && !part.includes('\u0000');
    if (Array.isArray(key) && key.length === shape.length && key.every((part, index) => fits(part, shape[index]!))) return key;
  } catch {
    // reported below
  }
  throw new ValidationFailed([{ field, rule: 'cursor', message: `${field} is not a cursor this API gave out` }]);
}
