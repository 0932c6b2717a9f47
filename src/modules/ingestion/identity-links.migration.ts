import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Which user an anonymous id was linked to, keyed by a keyed hash of the anonymous id. */
export class IdentityLinks1764144300000 implements MigrationInterface {
  name = 'IdentityLinks1764144300000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE identity_links (
        anonymous_hash text PRIMARY KEY,
        customer_id text NOT NULL,
        linked_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query('CREATE INDEX identity_links_customer ON identity_links (customer_id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE identity_links');
  }
}
