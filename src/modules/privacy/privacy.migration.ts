import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-customer data keys, wrapped by the master key. Destroying a customer's key (crypto-shredding)
 * makes the personal data of all their events unreadable while the log itself stays intact.
 */
export class CustomerKeys1764144200000 implements MigrationInterface {
  name = 'CustomerKeys1764144200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE customer_keys (
        customer_id text PRIMARY KEY,
        -- null once destroyed: the customer's personal data is then unreadable forever
        wrapped_key jsonb,
        master_key_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        destroyed_at timestamptz
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE customer_keys');
  }
}
