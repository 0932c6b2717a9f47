import { hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { decodeKey, type Config } from '../../config/config.js';
import type { Logger } from '../logging/logger.js';
import { parseApiKeys, type ApiKey } from '../auth/api-keys.js';

/** Key material of an instance: configured, or generated once into the data folder outside production. */
export interface Secrets {
  masterKey: Buffer;
  /** Master keys rotated out, still able to unwrap the data keys they wrapped. */
  previousMasterKeys: Buffer[];
  /** Keys the HMAC pseudonyms of the analytics tables. */
  pseudonymKey: Buffer;
  /** Keys the hashes of the identity index (derived from TRAILMAP_PSEUDONYM_KEY). */
  identityKey: Buffer;
  apiKeys: ApiKey[];
}

export class MissingSecret extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingSecret';
  }
}

export async function resolveSecrets(config: Config, logger: Logger): Promise<Secrets> {
  const production = config.NODE_ENV === 'production';
  const folder = config.TRAILMAP_DATA_DIR;
  const generated = async (name: string, variable: string, create: () => string): Promise<string> => {
    if (production) throw new MissingSecret(`${variable} must be set in production (NODE_ENV=production); Trailmap generates it only outside production.`);
    const file = path.join(folder, name);
    try {
      return (await fs.readFile(file, 'utf8')).trim();
    } catch {
      await fs.mkdir(folder, { recursive: true });
      await fs.writeFile(file, `${create()}\n`, { mode: 0o600, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      logger.warn({ file }, `${variable} is not set: generated one into ${file}`);
      return (await fs.readFile(file, 'utf8')).trim();
    }
  };
  const newKey = () => randomBytes(32).toString('base64');
  const masterKey = config.TRAILMAP_MASTER_KEY ?? decodeKey(await generated('master.key', 'TRAILMAP_MASTER_KEY', newKey))!;
  const pseudonymKey = config.TRAILMAP_PSEUDONYM_KEY ?? decodeKey(await generated('pseudonym.key', 'TRAILMAP_PSEUDONYM_KEY', newKey))!;
  let apiKeys = config.TRAILMAP_API_KEYS;
  if (!apiKeys) {
    const adminKey = await generated('admin.key', 'TRAILMAP_API_KEYS', () => randomBytes(24).toString('base64url'));
    logger.info({ file: path.join(folder, 'admin.key') }, `no API keys configured: the admin key is in ${path.join(folder, 'admin.key')}`);
    apiKeys = `${adminKey}:admin`;
  }
  return {
    masterKey,
    previousMasterKeys: config.TRAILMAP_PREVIOUS_MASTER_KEYS,
    pseudonymKey: deriveKey(pseudonymKey, 'analytics pseudonym'),
    identityKey: deriveKey(pseudonymKey, 'identity index'),
    apiKeys: parseApiKeys(apiKeys),
  };
}

/** One configured secret, several independent keys: each use gets its own. */
function deriveKey(secret: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `trailmap ${purpose}`, 32));
}
