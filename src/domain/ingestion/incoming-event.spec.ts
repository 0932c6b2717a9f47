import { createCatalog, defaultEventTypes } from '../catalog/index.js';
import { checkEvents, storedEventId } from './incoming-event.js';

const catalog = createCatalog(defaultEventTypes);
const options = { receivedAt: '2026-11-26T12:00:00.000Z', newId: () => '11111111-1111-4111-8111-111111111111' };

describe('checking incoming events', () => {
  it('accepts a valid event, defaulting its time to when it was received', () => {
    const { accepted, problems } = checkEvents([{ type: 'Page Viewed', anonymousId: 'a1', properties: { path: '/' } }], catalog, options);
    expect(problems).toEqual([]);
    expect(accepted).toEqual([
      { id: options.newId(), type: 'Page Viewed', anonymousId: 'a1', occurredAt: options.receivedAt, properties: { path: '/' }, traits: {}, context: {} },
    ]);
  });

  it('keeps UUID ids and derives stable UUIDs from other idempotency keys', () => {
    expect(storedEventId('A0B1C2D3-0000-4000-8000-000000000000')).toBe('a0b1c2d3-0000-4000-8000-000000000000');
    expect(storedEventId('order-1-completed')).toBe(storedEventId('order-1-completed'));
    expect(storedEventId('order-1-completed')).not.toBe(storedEventId('order-2-completed'));
  });

  it('derives the same ids as earlier versions did, so a retry sent across an upgrade is still a duplicate', () => {
    expect(storedEventId('order-1-completed')).toBe('114c9a1a-b766-5c98-a06b-cf4f734429e0');
    expect(storedEventId('segment:demo-1-2-3')).toBe('dc959ab1-1150-53c2-b595-f3c76c8884d6');
    expect(storedEventId('käse/😀')).toBe('4ae865a0-9fc1-5a88-8e3f-ab1942cc1ad6');
  });

  it('reports the problems of every event with its index and accepts none of the batch', () => {
    const { accepted, problems } = checkEvents(
      [{ type: 'Page Viewed', userId: 'u' }, { type: 'Order Completed', userId: 'u', occurredAt: 'soon' }, { type: 'Cart Abandoned', userId: 'u' }],
      catalog,
      options,
    );
    expect(accepted).toEqual([]);
    expect(problems.map(({ index, field, rule }) => [index, field, rule])).toEqual([
      [1, 'properties.order_id', 'required'],
      [1, 'occurredAt', 'format'],
      [2, 'type', 'reserved'],
    ]);
  });

  it('reads the anonymous id of an alias from previous_id', () => {
    const { accepted } = checkEvents([{ type: 'Identity Linked', userId: 'u', properties: { previous_id: 'a' } }], catalog, options);
    expect(accepted[0]).toMatchObject({ userId: 'u', anonymousId: 'a' });
  });

  it.each([
    ['text that JSON escapes, counted as escaped', { title: '\u0001'.repeat(5_500) }],
    ['characters of three UTF-8 bytes', { title: '€'.repeat(11_000) }],
    ['numbers', { scores: Array.from({ length: 1_400 }, () => -1.2345678901234567e-300) }],
    ['many small fields', Object.fromEntries(Array.from({ length: 3_000 }, (_, index) => [`f${index}`, index]))],
  ])('measures an event of %s by its size as stored JSON', (_, properties) => {
    const event = { type: 'Page Viewed', userId: 'u', properties };
    const stored = Buffer.byteLength(JSON.stringify(event), 'utf8');
    expect(stored).toBeGreaterThan(32 * 1024);
    const { problems } = checkEvents([event], catalog, options);
    expect(problems).toContainEqual({ index: 0, field: 'event', rule: 'max_size', message: `event is ${stored} bytes; at most ${32 * 1024} are accepted` });
  });

  it('accepts an event just under the size limit', () => {
    const event = { type: 'Page Viewed', userId: 'u', properties: { title: '\u0001'.repeat(5_400) } };
    expect(Buffer.byteLength(JSON.stringify(event), 'utf8')).toBeLessThan(32 * 1024);
    expect(checkEvents([event], catalog, options).problems).toEqual([]);
  });

  it('refuses lone surrogates, which PostgreSQL cannot store', () => {
    const { problems } = checkEvents([{ type: 'Page Viewed', userId: 'u', properties: { title: 'bad \ud800 text' } }], catalog, options);
    expect(problems).toEqual([expect.objectContaining({ field: 'properties.title', rule: 'invalid_character' })]);
  });
});
