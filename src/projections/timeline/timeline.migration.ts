import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Where each event of a customer sits in time, so a timeline pages by occurredAt; the events themselves stay in the log. */
export class Timeline1764144800000 implements MigrationInterface {
  name = 'Timeline1764144800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE timeline_entries (
        customer_id text NOT NULL,
        revision bigint NOT NULL,
        occurred_at timestamptz NOT NULL,
        event_id uuid NOT NULL,
        PRIMARY KEY (customer_id, revision)
      )`);
    await queryRunner.query('CREATE INDEX timeline_entries_time ON timeline_entries (customer_id, occurred_at, revision)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE timeline_entries');
  }
}
