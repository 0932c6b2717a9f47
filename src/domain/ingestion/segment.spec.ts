import { fromSegmentBatch, fromSegmentMessage } from './segment.js';

const receivedAt = '2026-11-26T12:00:00.000Z';

describe('Segment messages', () => {
  it('records each call under its event type', () => {
    expect(fromSegmentMessage('track', { event: 'Order Completed', userId: 'u' }, { receivedAt }).type).toBe('Order Completed');
    expect(fromSegmentMessage('identify', { userId: 'u', traits: { email: 'a@b.co' } }, { receivedAt })).toMatchObject({ type: 'Identified', traits: { email: 'a@b.co' } });
    expect(fromSegmentMessage('page', { anonymousId: 'a', name: 'Home', properties: { path: '/' } }, { receivedAt })).toMatchObject({
      type: 'Page Viewed',
      properties: { path: '/', name: 'Home' },
    });
    expect(fromSegmentMessage('screen', { userId: 'u', name: 'Cart' }, { receivedAt }).type).toBe('Screen Viewed');
    expect(fromSegmentMessage('group', { userId: 'u', groupId: 'g' }, { receivedAt })).toMatchObject({ type: 'Group Identified', properties: { group_id: 'g' } });
    expect(fromSegmentMessage('alias', { userId: 'u', previousId: 'a' }, { receivedAt })).toMatchObject({ type: 'Identity Linked', properties: { previous_id: 'a' } });
  });

  it('derives the idempotency key from messageId', () => {
    expect(fromSegmentMessage('track', { event: 'x', messageId: 'm-1' }, { receivedAt }).id).toBe('segment:m-1');
    expect(fromSegmentMessage('track', { event: 'x' }, { receivedAt }).id).toBeUndefined();
  });

  it('corrects the timestamp for the client clock: receivedAt − (sentAt − timestamp)', () => {
    const event = fromSegmentMessage('track', { event: 'x', timestamp: '2026-11-26T13:00:00.000Z', sentAt: '2026-11-26T13:00:05.000Z' }, { receivedAt });
    expect(event.occurredAt).toBe('2026-11-26T11:59:55.000Z');
    const batched = fromSegmentMessage('track', { event: 'x', timestamp: '2026-11-26T13:00:00.000Z' }, { receivedAt, batchSentAt: '2026-11-26T13:00:01.000Z' });
    expect(batched.occurredAt).toBe('2026-11-26T11:59:59.000Z');
    expect(fromSegmentMessage('track', { event: 'x', timestamp: '2026-11-26T13:00:00.000Z' }, { receivedAt }).occurredAt).toBe('2026-11-26T13:00:00.000Z');
  });

  it('gives batch messages the batch context and names invalid calls by index', () => {
    const { events, problems } = fromSegmentBatch(
      { context: { library: { name: 'analytics-node' } }, batch: [{ type: 'track', event: 'x', context: { ip: '1.2.3.4' } }, { type: 'nope' }] },
      receivedAt,
    );
    expect(events[0]!.context).toEqual({ library: { name: 'analytics-node' }, ip: '1.2.3.4' });
    expect(problems).toEqual([{ index: 1, field: 'type', rule: 'enum', message: expect.stringContaining('track') }]);
  });
});
