import type { MigrationInterface, QueryRunner } from 'typeorm';
import { REBUILD_SUFFIX } from './projection.js';

/** The states a projection loads before each batch and rewrites after it, and no statement looks inside. */
const STATES = [
  ['customer_profiles', 'profile'],
  ['journey_states', 'state'],
] as const;

/**
 * The profile and the journey state are kept as the JSON text the projection writes (`json`), not
 * as `jsonb`, as the log's events are: the projection loads a batch's states and rewrites them
 * whole, and no statement looks inside them, so `jsonb`'s binary form was built on every write and
 * turned back into text on every load for nothing (a third of PostgreSQL's CPU for a profile's
 * upsert, two fifths of its load). A rebuild's twin under way changes with its table.
 */
export class ProjectionStatesAsWritten1764145300000 implements MigrationInterface {
  name = 'ProjectionStatesAsWritten1764145300000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await this.retype(queryRunner, 'json');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await this.retype(queryRunner, 'jsonb');
  }

  private async retype(queryRunner: QueryRunner, type: 'json' | 'jsonb'): Promise<void> {
    for (const [table, column] of STATES) {
      for (const name of [table, `${table}${REBUILD_SUFFIX}`]) {
        await queryRunner.query(`ALTER TABLE IF EXISTS ${name} ALTER COLUMN ${column} TYPE ${type} USING ${column}::${type}`);
      }
    }
  }
}
