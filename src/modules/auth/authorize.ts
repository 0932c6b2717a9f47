import { Forbidden, Unauthenticated } from '../../domain/errors.js';
import { can, type Permission, type Principal } from './api-keys.js';

/** Access first, then work: throws unless the caller holds the permission. */
export function authorize(principal: Principal | undefined, permission: Permission): Principal {
  if (!principal) throw new Unauthenticated();
  if (!can(principal, permission)) throw new Forbidden(`This API key may not ${describe(permission)} (permission ${permission}).`);
  return principal;
}

function describe(permission: Permission): string {
  const [resource, action] = permission.split(':');
  return `${action} ${resource}`;
}

/** The key presented on an HTTP request: `Authorization: Bearer <key>`, or Segment's Basic `<writeKey>:`. */
export function presentedKey(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const [scheme, value] = authorization.trim().split(/\s+/, 2);
  if (!value) return undefined;
  if (/^bearer$/i.test(scheme!)) return value;
  if (/^basic$/i.test(scheme!)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    return decoded.slice(0, decoded.includes(':') ? decoded.indexOf(':') : undefined) || undefined;
  }
  return undefined;
}
