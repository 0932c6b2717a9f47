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

  it('refuses lone surrogates, which PostgreSQL cannot store', () => {
    const { problems } = checkEvents([{ type: 'Page Viewed', userId: 'u', properties: { title: 'bad \ud800 text' } }], catalog, options);
    expect(problems).toEqual([expect.objectContaining({ field: 'properties.title', rule: 'invalid_character' })]);
  });
});
