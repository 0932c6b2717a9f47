import path from 'node:path';
import { z } from 'zod';

/**
 * One environment variable: how it is parsed, what it accepts, and what it is for.
 * The README's configuration table is generated from these definitions.
 */
interface Variable<T> {
  description: string;
  /** Shown in errors and in the README: what values the variable takes. */
  accepts: string;
  /** Shown in the README when the default is computed or absent. */
  defaultText?: string;
  schema: z.ZodType<T>;
}

const variable = <T>(definition: Variable<T>): Variable<T> => definition;

const port = z.coerce.number().int().min(0).max(65_535);
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const nodeEnv = z.enum(['development', 'production', 'test']);
const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/)
  .transform(parseDuration);
const secretKey = z
  .string()
  .optional()
  .refine((value) => value === undefined || decodeKey(value) !== undefined)
  .transform((value) => (value === undefined ? undefined : decodeKey(value)!));
const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .optional()
    .refine((value) => value === undefined || protocols.some((p) => value.startsWith(p)));

export const variables = {
  NODE_ENV: variable({
    description: 'Deployment mode. `production` turns off the GraphQL sandbox and introspection.',
    accepts: 'development, production or test',
    schema: nodeEnv.default('development'),
  }),
  PORT: variable({
    description: 'TCP port of the HTTP server (GraphQL, subscriptions, Segment API, health). 0 picks a free port.',
    accepts: 'an integer from 0 to 65535',
    schema: port.default(4000),
  }),
  HOST: variable({
    description: 'Interface the HTTP server listens on. Use 0.0.0.0 in a container.',
    accepts: 'a host name or IP address',
    schema: z.string().min(1).default('127.0.0.1'),
  }),
  DATABASE_URL: variable({
    description:
      'PostgreSQL for the read models (and the event log unless EventStoreDB is configured). Unset: Trailmap starts its own embedded PostgreSQL in TRAILMAP_DATA_DIR.',
    accepts: 'a postgres:// or postgresql:// URL',
    defaultText: 'unset (embedded PostgreSQL)',
    schema: optionalUrl(['postgres://', 'postgresql://']),
  }),
  TRAILMAP_DATA_DIR: variable({
    description: 'Folder of the embedded PostgreSQL (when DATABASE_URL is unset) and of the keys generated outside production.',
    accepts: 'a folder path',
    defaultText: '`./.trailmap`',
    schema: z
      .string()
      .min(1)
      .default('./.trailmap')
      .transform((folder) => path.resolve(folder)),
  }),
  EVENTSTORE_CONNECTION_STRING: variable({
    description: 'When set, the event log lives in EventStoreDB (KurrentDB) instead of PostgreSQL.',
    accepts: 'an esdb://, esdb+discover://, kurrentdb:// or kurrent:// connection string',
    defaultText: 'unset (log in PostgreSQL)',
    schema: optionalUrl(['esdb://', 'esdb+discover://', 'kurrentdb://', 'kurrentdb+discover://', 'kurrent://']),
  }),
  LOG_LEVEL: variable({
    description: 'Minimum level of the structured (pino) log.',
    accepts: 'fatal, error, warn, info, debug, trace or silent',
    schema: logLevel.default('info'),
  }),
  DATABASE_POOL_SIZE: variable({
    description: 'Connections in the PostgreSQL pool of this instance.',
    accepts: 'an integer from 2 to 200',
    schema: z.coerce.number().int().min(2).max(200).default(10),
  }),
  TRAILMAP_API_KEYS: variable({
    description:
      'API keys and their roles, comma-separated `key:role[+role]` (roles: ingest, support, analyst, operator, admin). Unset outside production: an admin key is generated into TRAILMAP_DATA_DIR.',
    accepts: 'entries `key:role[+role]`, keys of 16 or more characters',
    defaultText: 'unset (generated admin key)',
    schema: z
      .string()
      .optional()
      .refine((value) => value === undefined || value.split(',').every((entry) => /^[^:\s,]{16,}:[a-z]+(\+[a-z]+)*$/.test(entry.trim()))),
  }),
  TRAILMAP_MASTER_KEY: variable({
    description: 'Wraps the per-customer data keys that encrypt personal data in the log. Unset outside production: generated into TRAILMAP_DATA_DIR.',
    accepts: '32 bytes, base64 or hex',
    defaultText: 'unset (generated)',
    schema: secretKey,
  }),
  TRAILMAP_PREVIOUS_MASTER_KEYS: variable({
    description:
      'Master keys in use before the current one, comma-separated: data keys they wrapped stay readable until `npm run cli -- rewrap-keys` re-wraps them under TRAILMAP_MASTER_KEY.',
    accepts: 'comma-separated keys of 32 bytes, base64 or hex',
    defaultText: 'unset',
    schema: z
      .string()
      .optional()
      .refine((value) => value === undefined || value.split(',').every((key) => decodeKey(key.trim()) !== undefined))
      .transform((value) => (value === undefined ? [] : value.split(',').map((key) => decodeKey(key.trim())!))),
  }),
  TRAILMAP_PSEUDONYM_KEY: variable({
    description: 'Keys the HMAC pseudonyms of analytics tables and the hashes of the identity index. Unset outside production: generated into TRAILMAP_DATA_DIR.',
    accepts: '32 bytes, base64 or hex',
    defaultText: 'unset (generated)',
    schema: secretKey,
  }),
  TRAILMAP_CATALOG: variable({
    description: 'A JSON file of event types that extend or override the default event catalog.',
    accepts: 'a file path',
    defaultText: 'unset (default catalog only)',
    schema: z.string().min(1).optional(),
  }),
  TRAILMAP_ALLOW_UNKNOWN_EVENTS: variable({
    description: 'Accept event types the catalog does not describe (their properties and traits are then treated as personal data).',
    accepts: 'true or false',
    schema: z.enum(['true', 'false']).default('false').transform((value) => value === 'true'),
  }),
  TRAILMAP_PROJECTIONS: variable({
    description:
      'Whether and where this instance runs projection runners and the scheduler (one instance at a time is active per projection; others stand by): `worker` in a thread of their own, off the request loop; `on` on the request loop; `off` makes an API-only instance.',
    accepts: 'worker, on or off',
    schema: z.enum(['on', 'off', 'worker']).default('worker'),
  }),
  TRAILMAP_PROJECTIONS_HEAP_MB: variable({
    description:
      'With `TRAILMAP_PROJECTIONS=worker`, the most memory the projections thread\'s heap may take (MiB). Without a limit the JavaScript engine sizes it by the machine\'s memory and lets it grow to several times what is live between collections; a thread that runs out is restarted, and says so in the log.',
    accepts: 'an integer from 128 to 16384',
    schema: z.coerce.number().int().min(128).max(16384).default(512),
  }),
  TRAILMAP_DORMANT_AFTER: variable({
    description: 'Inactivity after which the scheduler records `Customer Went Dormant`.',
    accepts: 'a duration such as 30d or 12h',
    defaultText: '`30d`',
    schema: duration.default(30 * 86_400_000),
  }),
  TRAILMAP_CART_ABANDONED_AFTER: variable({
    description: 'Time after a `Product Added` without checkout after which the scheduler records `Cart Abandoned`.',
    accepts: 'a duration such as 1h or 30m',
    defaultText: '`1h`',
    schema: duration.default(3_600_000),
  }),
  TRAILMAP_SCHEDULER_INTERVAL: variable({
    description: 'How often the scheduler looks for dormant customers and abandoned carts.',
    accepts: 'a duration such as 1m or 10s',
    defaultText: '`1m`',
    schema: duration.default(60_000),
  }),
  SHUTDOWN_TIMEOUT: variable({
    description: 'How long a graceful shutdown waits for in-flight requests before closing them.',
    accepts: 'a duration such as 500ms, 10s or 1m',
    defaultText: '`10s`',
    schema: duration.default(10_000),
  }),
} as const;

type Variables = typeof variables;
export type Config = { [K in keyof Variables]: Variables[K] extends Variable<infer T> ? T : never };
export type Environment = Record<string, string | undefined>;

export class InvalidConfiguration extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'InvalidConfiguration';
  }
}

/** Reads and validates every variable; all problems are reported at once, one line each. */
export function loadConfig(environment: Environment = process.env): Config {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, definition] of Object.entries(variables) as [string, Variable<unknown>][]) {
    const raw = environment[name];
    const parsed = definition.schema.safeParse(raw === '' ? undefined : raw);
    if (parsed.success) config[name] = parsed.data;
    else problems.push(`Invalid configuration: ${name}=${JSON.stringify(raw)} is not valid; it accepts ${definition.accepts}.`);
  }
  if (problems.length > 0) throw new InvalidConfiguration(problems);
  return config as Config;
}

/** The README table of variables, generated so the documentation cannot drift from the code. */
export function configurationTable(): string {
  const rows = Object.entries(variables).map(([name, definition]: [string, Variable<unknown>]) => {
    const fallback = definition.schema.safeParse(undefined);
    const shown =
      definition.defaultText ?? (fallback.success && fallback.data !== undefined ? `\`${String(fallback.data)}\`` : 'unset');
    return `| \`${name}\` | ${definition.description} | ${definition.accepts} | ${shown} |`;
  });
  return ['| Variable | What it does | Accepts | Default |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** A 32-byte key written as 64 hex digits or as base64; undefined when it is neither. */
export function decodeKey(text: string): Buffer | undefined {
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  return key.length === 32 ? key : undefined;
}

/** Milliseconds from a duration such as `250ms`, `30s`, `5m`, `1h` or `30d`. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
