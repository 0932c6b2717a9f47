import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The event-id registry of the EventStoreDB store. EventStoreDB keeps no index by event id, so the
 * stream and location of every id it stores are kept here, in the PostgreSQL beside the read models.
 */
export class EventIdRegistry1764144100000 implements MigrationInterface {
  name = 'EventIdRegistry1764144100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE event_store_event_ids (
        id uuid PRIMARY KEY,
        stream text NOT NULL,
        revision bigint NOT NULL,
        -- the EventStoreDB position, encoded as the event store port's position
        position text NOT NULL
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE event_store_event_ids');
  }
}
