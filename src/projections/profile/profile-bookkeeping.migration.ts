import type { MigrationInterface, QueryRunner } from 'typeorm';
import { REBUILD_SUFFIX } from '../projection.js';

/** The profile's keys the projection folds with and no reader is served (`ProfileBookkeeping`). */
const BOOKKEEPING = ['traitsUpdatedAt', 'sessions', 'supportTickets', 'appliedRevisions'] as const;

const TABLES = ['customer_profiles', `customer_profiles${REBUILD_SUFFIX}`] as const;

/**
 * The profile's bookkeeping is kept in a column of its own, so that a read of a customer fetches and
 * parses only the part it serves (a `json` column cannot be read in part). The stored profiles are
 * split, and a rebuild's twin under way with them; their served part's keys come out in `jsonb`'s
 * order until the projection writes them again, in canonical order.
 */
export class ProfileBookkeepingApart1764145400000 implements MigrationInterface {
  name = 'ProfileBookkeepingApart1764145400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of TABLES) {
      if (!(await exists(queryRunner, table))) continue;
      await queryRunner.query(`ALTER TABLE ${table} ADD COLUMN bookkeeping json`);
      await queryRunner.query(
        `UPDATE ${table} SET
           bookkeeping = json_build_object(${BOOKKEEPING.map((key) => `'${key}', profile -> '${key}'`).join(', ')}),
           profile = (profile::jsonb ${BOOKKEEPING.map((key) => `- '${key}'`).join(' ')})::json`,
      );
      await queryRunner.query(`ALTER TABLE ${table} ALTER COLUMN bookkeeping SET NOT NULL`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of TABLES) {
      if (!(await exists(queryRunner, table))) continue;
      await queryRunner.query(`UPDATE ${table} SET profile = (profile::jsonb || bookkeeping::jsonb)::json`);
      await queryRunner.query(`ALTER TABLE ${table} DROP COLUMN bookkeeping`);
    }
  }
}

async function exists(queryRunner: QueryRunner, table: string): Promise<boolean> {
  const [row] = (await queryRunner.query('SELECT to_regclass($1) IS NOT NULL AS found', [table])) as { found: boolean }[];
  return row!.found;
}
