import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

export interface PersonalDataRead {
  keyId: string;
  customerId: string;
  fields: string[];
  operation: string;
}

/** The record of reads of personal data (`personal_data_access`, written here only): who, which customer, when, which fields. */
@Injectable()
export class AccessLog {
  constructor(private readonly database: Database) {}

  async record(reads: PersonalDataRead[]): Promise<void> {
    if (reads.length === 0) return;
    await this.database.query(
      `INSERT INTO personal_data_access (key_id, customer_id, fields, operation)
       SELECT r->>'keyId', r->>'customerId', ARRAY(SELECT jsonb_array_elements_text(r->'fields')), r->>'operation'
       FROM jsonb_array_elements($1::jsonb) AS r`,
      [JSON.stringify(reads)],
    );
  }

  async reads(customerId: string, first: number) {
    const { rows } = await this.database.query<{ at: Date; key_id: string; customer_id: string; fields: string[]; operation: string }>(
      'SELECT at, key_id, customer_id, fields, operation FROM personal_data_access WHERE customer_id = $1 ORDER BY id DESC LIMIT $2',
      [customerId, first],
    );
    return rows.map((row) => ({ at: row.at, keyId: row.key_id, customerId: row.customer_id, fields: row.fields, operation: row.operation }));
  }
}
