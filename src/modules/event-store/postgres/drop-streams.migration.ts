import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Appends no longer keep a row per stream: they take turns on transaction locks and read the
 * stream's last revision from the (stream, revision) index, so an append writes its events and nothing else.
 */
export class DropStreamRevisions1764145000000 implements MigrationInterface {
  name = 'DropStreamRevisions1764145000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE event_store_streams');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE event_store_streams (stream text PRIMARY KEY, revision bigint NOT NULL)');
    await queryRunner.query('INSERT INTO event_store_streams SELECT stream, max(revision) FROM event_store_events GROUP BY stream');
  }
}
