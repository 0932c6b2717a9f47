import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The visitors folded into a customer, found by index: a customer's stage history, timeline and
 * erasure look them up on every read, which scanned every profile without it.
 */
export class ProfilesMergedIntoIndex1764145100000 implements MigrationInterface {
  name = 'ProfilesMergedIntoIndex1764145100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX customer_profiles_merged_into ON customer_profiles (merged_into) WHERE merged_into IS NOT NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX customer_profiles_merged_into');
  }
}
