import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Where each projection stands in the global order, and how it is doing. */
export class ProjectionCheckpoints1764144400000 implements MigrationInterface {
  name = 'ProjectionCheckpoints1764144400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE projection_checkpoints (
        name text PRIMARY KEY,
        position text,
        processed bigint NOT NULL DEFAULT 0,
        state text NOT NULL DEFAULT 'CATCHING_UP',
        events_per_second double precision NOT NULL DEFAULT 0,
        last_error text,
        last_error_event uuid,
        rebuild_requested_at timestamptz,
        -- set while a rebuild fills the twin tables: its own checkpoint and count
        rebuild_position text,
        rebuild_processed bigint,
        rebuilding boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE projection_checkpoints');
  }
}
