import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The unified customer profile and the identity index that `customerByIdentity` reads (keyed hashes only). */
export class CustomerProfiles1764144500000 implements MigrationInterface {
  name = 'CustomerProfiles1764144500000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE customer_profiles (
        customer_id text PRIMARY KEY,
        profile jsonb NOT NULL,
        -- an anonymous visitor folded into a user's profile
        merged_into text,
        forgotten boolean NOT NULL DEFAULT false,
        first_seen_at timestamptz,
        last_seen_at timestamptz
      )`);
    await queryRunner.query(`
      CREATE TABLE customer_identities (
        identity_hash text NOT NULL,
        customer_id text NOT NULL,
        PRIMARY KEY (identity_hash, customer_id)
      )`);
    await queryRunner.query('CREATE INDEX customer_identities_customer ON customer_identities (customer_id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE customer_identities');
    await queryRunner.query('DROP TABLE customer_profiles');
  }
}
