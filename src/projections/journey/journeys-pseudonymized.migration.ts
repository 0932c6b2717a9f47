import type { MigrationInterface, QueryRunner } from 'typeorm';
import { REBUILD_SUFFIX } from '../projection.js';

/** The pseudonymized journey tables, which the analytics projection wrote and the journey projection writes now. */
const MOVED = ['analytics_journeys', 'analytics_stage_transitions'] as const;

/**
 * The journeys' pseudonymized side for analysts (each person's stage and merge, the stage
 * transitions) is written by the journey projection, from its own fold, where the analytics
 * projection folded every journey a second time under pseudonyms. A person's row keeps their stage
 * and merge only: the rest of the state was the second fold's. The rows as they are stay served
 * until the journey projection, asked to rebuild, swaps in tables made by its own fold; an analytics
 * rebuild under way loses its twins of them, which are no longer its own.
 */
export class JourneysPseudonymizedByTheJourney1764145500000 implements MigrationInterface {
  name = 'JourneysPseudonymizedByTheJourney1764145500000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await dropTwins(queryRunner);
    await queryRunner.query('ALTER TABLE analytics_journeys ADD COLUMN stage text');
    await queryRunner.query("UPDATE analytics_journeys SET stage = state->>'stage'");
    await queryRunner.query('ALTER TABLE analytics_journeys DROP COLUMN state');
    await requestRebuild(queryRunner, 'journey-stage');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await dropTwins(queryRunner);
    // The analytics projection's fold needs the whole state, which only its rebuild can make again.
    await queryRunner.query('ALTER TABLE analytics_journeys ADD COLUMN state jsonb');
    await queryRunner.query('ALTER TABLE analytics_journeys DROP COLUMN stage');
    await requestRebuild(queryRunner, 'analytics');
  }
}

async function dropTwins(queryRunner: QueryRunner): Promise<void> {
  for (const table of MOVED) await queryRunner.query(`DROP TABLE IF EXISTS ${table}${REBUILD_SUFFIX}`);
}

/** Asks an existing projection to rebuild (a database with no checkpoint yet builds everything from the log anyway). */
async function requestRebuild(queryRunner: QueryRunner, projection: string): Promise<void> {
  await queryRunner.query('UPDATE projection_checkpoints SET rebuild_requested_at = now(), updated_at = now() WHERE name = $1', [projection]);
}
