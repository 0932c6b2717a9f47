import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Each customer's journey stage, its history of transitions, and what the scheduler looks for. */
export class JourneyStages1764144600000 implements MigrationInterface {
  name = 'JourneyStages1764144600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE journey_states (
        customer_id text PRIMARY KEY,
        -- null for an anonymous visitor merged into a user before any of its own events arrived
        state jsonb,
        stage text,
        entered_at timestamptz,
        merged_into text,
        -- what the scheduler looks for: the activity a dormancy would follow, the open cart an abandonment would
        dormancy_due_from timestamptz,
        abandonment_due_from timestamptz
      )`);
    await queryRunner.query('CREATE INDEX journey_states_stage ON journey_states (stage, customer_id) WHERE merged_into IS NULL');
    await queryRunner.query('CREATE INDEX journey_states_dormancy ON journey_states (dormancy_due_from) WHERE dormancy_due_from IS NOT NULL');
    await queryRunner.query('CREATE INDEX journey_states_abandonment ON journey_states (abandonment_due_from) WHERE abandonment_due_from IS NOT NULL');
    await queryRunner.query(`
      CREATE TABLE journey_transitions (
        customer_id text NOT NULL,
        event_id uuid NOT NULL,
        position text NOT NULL,
        from_stage text,
        to_stage text NOT NULL,
        at timestamptz NOT NULL,
        event_type text NOT NULL,
        seconds_in_previous double precision,
        PRIMARY KEY (customer_id, event_id)
      )`);
    await queryRunner.query('CREATE INDEX journey_transitions_history ON journey_transitions (customer_id, position)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE journey_transitions');
    await queryRunner.query('DROP TABLE journey_states');
  }
}
