import type { Database } from '../../database/database.js';
import type { StoredEvent } from '../event-store.port.js';

/** Where the registry says an event id is stored. */
export type RegisteredEvent = Pick<StoredEvent, 'stream' | 'revision' | 'position'>;

export interface EventRegistration extends RegisteredEvent {
  id: string;
}

/**
 * Which stream holds each event id stored in EventStoreDB, which has no index by event id.
 * Only ids already written to EventStoreDB are recorded, and the first registration of an id stays.
 */
export class EventIdRegistry {
  constructor(private readonly database: Database) {}

  /** The registrations of those ids that have one, keyed by the ids as given. */
  async find(ids: readonly string[]): Promise<Map<string, RegisteredEvent>> {
    const found = new Map<string, RegisteredEvent>();
    if (ids.length === 0) return found;
    const { rows } = await this.database.query<{ id: string; stream: string; revision: string; position: string }>(
      'SELECT id, stream, revision, position FROM event_store_event_ids WHERE id = ANY($1::uuid[])',
      [[...new Set(ids)]],
    );
    const byId = new Map(rows.map((row) => [row.id, { stream: row.stream, revision: Number(row.revision), position: row.position }]));
    // PostgreSQL returns uuids in lower case, whatever case they were given in.
    for (const id of ids) {
      const registered = byId.get(id.toLowerCase());
      if (registered) found.set(id, registered);
    }
    return found;
  }

  /** Registers ids in one statement; an id registered already keeps its first registration. */
  async record(registrations: readonly EventRegistration[]): Promise<void> {
    if (registrations.length === 0) return;
    await this.database.query(
      `INSERT INTO event_store_event_ids (id, stream, revision, position)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[])
       ON CONFLICT (id) DO NOTHING`,
      [
        registrations.map(({ id }) => id),
        registrations.map(({ stream }) => stream),
        registrations.map(({ revision }) => revision),
        registrations.map(({ position }) => position),
      ],
    );
  }
}
