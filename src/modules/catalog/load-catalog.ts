import fs from 'node:fs/promises';
import type { Config } from '../../config/config.js';
import { createCatalog, defaultEventTypes, parseCatalogExtension, type EventCatalog } from '../../domain/catalog/index.js';

/** The default catalog, extended by the operator's file (TRAILMAP_CATALOG) when there is one. */
export async function loadCatalog(config: Config): Promise<EventCatalog> {
  const extensions = config.TRAILMAP_CATALOG
    ? parseCatalogExtension(JSON.parse(await fs.readFile(config.TRAILMAP_CATALOG, 'utf8')))
    : [];
  return createCatalog(defaultEventTypes, extensions, { allowUnknownTypes: config.TRAILMAP_ALLOW_UNKNOWN_EVENTS });
}
