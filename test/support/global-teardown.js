import fs from 'node:fs/promises';

export default async function globalTeardown() {
  const postgres = globalThis.trailmapTestPostgres;
  if (!postgres) return;
  await postgres.stop();
  await fs.rm(postgres.folder, { recursive: true, force: true });
}
