import { createHash, timingSafeEqual } from 'node:crypto';

export const roles = ['ingest', 'support', 'analyst', 'operator', 'admin'] as const;
export type Role = (typeof roles)[number];

/** What a caller may do. Each role grants a set of permissions; admin grants them all. */
export const permissions = {
  'events:record': ['ingest'],
  // Analysts and operators see customers without their personal data (those fields come back null and FORBIDDEN).
  'customers:read': ['support', 'analyst', 'operator'],
  'personal-data:read': ['support'],
  'analytics:read': ['analyst'],
  'catalog:read': ['analyst', 'ingest', 'support', 'operator'],
  'projections:read': ['operator'],
  'projections:rebuild': ['operator'],
  'customers:forget': ['operator'],
  'access-log:read': ['operator'],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof permissions;

/** A configured key, kept only as its SHA-256 digest. */
export interface ApiKey {
  digest: Buffer;
  roles: ReadonlySet<Role>;
}

/** Who is calling: the roles of their key and a short, non-secret key id for logs. */
export interface Principal {
  keyId: string;
  roles: ReadonlySet<Role>;
}

export function parseApiKeys(text: string): ApiKey[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const separator = entry.lastIndexOf(':');
      const names = entry.slice(separator + 1).split('+');
      const unknown = names.filter((name) => !(roles as readonly string[]).includes(name));
      if (unknown.length > 0) throw new Error(`TRAILMAP_API_KEYS: unknown role ${unknown.join(', ')}; roles are ${roles.join(', ')}.`);
      return { digest: digestOf(entry.slice(0, separator)), roles: new Set(names as Role[]) };
    });
}

export class ApiKeyring {
  constructor(private readonly keys: readonly ApiKey[]) {}

  /** The principal of a presented key; every configured key is compared, in constant time. */
  authenticate(presented: string | undefined): Principal | undefined {
    if (!presented) return undefined;
    const digest = digestOf(presented);
    let match: ApiKey | undefined;
    for (const key of this.keys) if (timingSafeEqual(key.digest, digest)) match = key;
    return match ? { keyId: digest.toString('base64url').slice(0, 8), roles: match.roles } : undefined;
  }
}

export function can(principal: Principal | undefined, permission: Permission): boolean {
  if (!principal) return false;
  if (principal.roles.has('admin')) return true;
  return permissions[permission].some((role) => principal.roles.has(role));
}

function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
