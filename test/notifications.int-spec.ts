import { Database } from '../src/modules/database/database.js';
import { Notifications } from '../src/modules/event-store/postgres/notifications.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { until } from './support/operations.js';

describe('notifications', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let observer: Database;

  beforeAll(async () => {
    testDatabase = await createTestDatabase({ migrated: false });
    database = new Database(testDatabase.url, 2);
    observer = new Database(testDatabase.url, 1);
  });

  afterAll(async () => {
    await database?.end();
    await observer?.end();
    await testDatabase?.drop();
  });

  /** The LISTEN connections open on the test database. */
  const listenConnections = async () =>
    (await observer.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'trailmap-listen'`)).rows.length;

  it('listens on every channel of a pool over one connection, and hands each notification to its channel only', async () => {
    const [first, second, third] = ['channel_a', 'channel_b', 'channel_c'].map((channel) => new Notifications(database, channel));
    const heard = { a: [] as string[], b: [] as string[], c: [] as string[] };
    first!.onNotification((payload) => heard.a.push(payload));
    second!.onNotification((payload) => heard.b.push(payload));
    third!.onNotification((payload) => heard.c.push(payload));
    try {
      await Promise.all([first!.listening(), second!.listening(), third!.listening()]);
      // PostgreSQL wakes every listening backend of the database on every NOTIFY: one here, not three.
      expect(await listenConnections()).toBe(1);

      await observer.query(`SELECT pg_notify('channel_a', 'one'), pg_notify('channel_b', 'two')`);
      await until(() => heard.a.length === 1 && heard.b.length === 1, 'the notifications');
      expect(heard).toEqual({ a: ['one'], b: ['two'], c: [] });

      // A channel closed leaves the others listening on the same connection; the last one closes it.
      await second!.close();
      await observer.query(`SELECT pg_notify('channel_b', 'unheard'), pg_notify('channel_c', 'three')`);
      await until(() => heard.c.length === 1, 'the notification on c');
      // (Closing b woke its own waiters, with the empty payload; nothing sent on b reaches it after.)
      expect(heard).toEqual({ a: ['one'], b: ['two', ''], c: ['three'] });
      expect(await listenConnections()).toBe(1);
      await first!.close();
      await third!.close();
      await until(async () => (await listenConnections()) === 0, 'the connection to close');

      // A channel listened to afterwards opens a new one.
      const again = new Notifications(database, 'channel_a');
      try {
        const seen = again.current();
        await again.listening();
        await observer.query(`SELECT pg_notify('channel_a', 'four')`);
        await again.wait(seen, 5_000);
        expect(again.current()).toBe(seen + 1);
        expect(await listenConnections()).toBe(1);
      } finally {
        await again.close();
      }
    } finally {
      await Promise.all([first!.close(), second!.close(), third!.close()]);
    }
  });

  it('wakes every channel once the lost connection is back, listening on all of them again', async () => {
    const channels = ['lost_a', 'lost_b'].map((channel) => new Notifications(database, channel));
    const payloads = channels.map(() => [] as string[]);
    channels.forEach((notifications, index) => notifications.onNotification((payload) => payloads[index]!.push(payload)));
    try {
      await Promise.all(channels.map((notifications) => notifications.listening()));
      await observer.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'trailmap-listen'`);
      // Each channel hears an empty payload (some notifications may be lost) once listening again.
      await until(() => payloads.every((heard) => heard.includes('')), 'the wake-up after reconnecting');
      await observer.query(`SELECT pg_notify('lost_a', 'after'), pg_notify('lost_b', 'after')`);
      await until(() => payloads.every((heard) => heard.includes('after')), 'the notifications after reconnecting');
      expect(await listenConnections()).toBe(1);
    } finally {
      await Promise.all(channels.map((notifications) => notifications.close()));
    }
  });
});
