import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Who read which customer's personal data, and when; it holds no personal data itself. */
export class PersonalDataAccess1764144900000 implements MigrationInterface {
  name = 'PersonalDataAccess1764144900000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE personal_data_access (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        key_id text NOT NULL,
        customer_id text NOT NULL,
        fields text[] NOT NULL,
        operation text NOT NULL
      )`);
    await queryRunner.query('CREATE INDEX personal_data_access_customer ON personal_data_access (customer_id, id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE personal_data_access');
  }
}
