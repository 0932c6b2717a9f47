import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tables an analyst or a BI tool may read directly: customers appear only as HMAC pseudonyms,
 * properties only as the catalog declares them without personal data.
 */
export class Analytics1764144700000 implements MigrationInterface {
  name = 'Analytics1764144700000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE analytics_events (
        event_id uuid PRIMARY KEY,
        pseudonym text NOT NULL,
        occurred_at timestamptz NOT NULL,
        day date NOT NULL,
        category text NOT NULL,
        event_type text NOT NULL,
        channel text,
        properties jsonb NOT NULL
      )`);
    await queryRunner.query('CREATE INDEX analytics_events_day ON analytics_events (day, category, event_type)');
    await queryRunner.query(`
      CREATE TABLE analytics_daily_activity (
        day date NOT NULL,
        category text NOT NULL,
        event_type text NOT NULL,
        events integer NOT NULL,
        customers integer NOT NULL,
        PRIMARY KEY (day, category, event_type)
      )`);
    await queryRunner.query(`
      CREATE TABLE analytics_daily_customers (
        day date NOT NULL,
        category text NOT NULL,
        event_type text NOT NULL,
        pseudonym text NOT NULL,
        PRIMARY KEY (day, category, event_type, pseudonym)
      )`);
    await queryRunner.query(`
      CREATE TABLE analytics_stage_transitions (
        pseudonym text NOT NULL,
        event_id uuid NOT NULL,
        from_stage text,
        to_stage text NOT NULL,
        at timestamptz NOT NULL,
        seconds_in_previous double precision,
        PRIMARY KEY (pseudonym, event_id)
      )`);
    await queryRunner.query('CREATE INDEX analytics_stage_transitions_at ON analytics_stage_transitions (at)');
    await queryRunner.query(`
      CREATE TABLE analytics_journeys (
        pseudonym text PRIMARY KEY,
        state jsonb,
        merged_into text
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['analytics_journeys', 'analytics_stage_transitions', 'analytics_daily_customers', 'analytics_daily_activity', 'analytics_events']) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}
