import { NOTIFY_PAYLOAD_LIMIT, readStageChangedNotice, stageChangedNotice, type StageChange } from './stage-changed-notice.js';

const change: StageChange = {
  customerId: 'ada',
  from: 'DISCOVERY',
  to: 'ENGAGEMENT',
  at: '2026-11-02T09:00:00.000Z',
  eventType: 'Product Viewed',
  eventId: '6f1c1c0e-0c39-4c0b-9d0f-3c2f4f1f7a10',
};

describe('stage changed notices', () => {
  it('carry the whole transition when it fits, and read back to it', () => {
    const payload = stageChangedNotice({ ...change, position: '1', secondsInPreviousStage: 12 } as StageChange);
    expect(JSON.parse(payload)).toEqual(change);
    expect(readStageChangedNotice(payload)).toEqual({ change });
  });

  it('carry only the key of the transition when it would reach the NOTIFY limit in bytes', () => {
    // 2-byte characters: under the limit in characters, over it in bytes.
    const large = { ...change, eventType: 'é'.repeat(NOTIFY_PAYLOAD_LIMIT / 2) };
    const payload = stageChangedNotice(large);
    expect(Buffer.byteLength(payload)).toBeLessThan(NOTIFY_PAYLOAD_LIMIT);
    expect(readStageChangedNotice(payload)).toEqual({ reference: { customerId: 'ada', eventId: change.eventId } });
  });

  it('keep a transition whose payload is one byte under the limit', () => {
    const bare = Buffer.byteLength(stageChangedNotice({ ...change, eventType: '' }));
    const fitting = { ...change, eventType: 'x'.repeat(NOTIFY_PAYLOAD_LIMIT - 1 - bare) };
    expect(Buffer.byteLength(stageChangedNotice(fitting))).toBe(NOTIFY_PAYLOAD_LIMIT - 1);
    expect(readStageChangedNotice(stageChangedNotice(fitting))).toEqual({ change: fitting });
    const overflowing = { ...fitting, eventType: `${fitting.eventType}x` };
    expect(readStageChangedNotice(stageChangedNotice(overflowing))).toEqual({ reference: { customerId: 'ada', eventId: change.eventId } });
  });

  it('read anything else as null', () => {
    for (const payload of ['', 'not json', 'null', '42', '{"customerId":"ada"}', 'ada']) expect(readStageChangedNotice(payload)).toBeNull();
  });
});
