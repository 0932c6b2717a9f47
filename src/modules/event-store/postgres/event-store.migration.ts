import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The PostgreSQL event log. Readers of the global order follow (transaction_id, global_position)
 * and stop below the oldest running transaction, so an event whose transaction commits late is
 * never skipped.
 */
export class EventStore1764144000000 implements MigrationInterface {
  name = 'EventStore1764144000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE event_store_streams (
        stream text PRIMARY KEY,
        -- revision of the stream's last event; -1 while a first append is in progress
        revision bigint NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE event_store_events (
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        global_position bigint GENERATED ALWAYS AS IDENTITY,
        stream text NOT NULL,
        revision bigint NOT NULL,
        id uuid NOT NULL,
        type text NOT NULL,
        data jsonb NOT NULL,
        metadata jsonb NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (transaction_id, global_position),
        CONSTRAINT event_store_events_stream_revision UNIQUE (stream, revision),
        CONSTRAINT event_store_events_id UNIQUE (id)
      )`);
    await queryRunner.query(`
      CREATE FUNCTION event_store_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'event_store_events is append-only: % is not allowed', TG_OP;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER event_store_events_append_only
        BEFORE UPDATE OR DELETE ON event_store_events
        FOR EACH ROW EXECUTE FUNCTION event_store_refuse_change()`);
    await queryRunner.query(`
      CREATE TRIGGER event_store_events_no_truncate
        BEFORE TRUNCATE ON event_store_events
        FOR EACH STATEMENT EXECUTE FUNCTION event_store_refuse_change()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE event_store_events');
    await queryRunner.query('DROP TABLE event_store_streams');
    await queryRunner.query('DROP FUNCTION event_store_refuse_change()');
  }
}
