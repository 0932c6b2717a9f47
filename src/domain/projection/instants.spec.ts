import { earlierOf, isAfter, laterOf } from './instants.js';

describe('instants', () => {
  it('orders instants by time, whatever their precision', () => {
    expect(isAfter('2026-01-01T10:00:00.001Z', '2026-01-01T10:00:00.000Z')).toBe(true);
    expect(isAfter('2026-01-01T10:00:00Z', '2026-01-01T10:00:00.000Z')).toBe(false);
    expect(isAfter('2026-01-01T10:00:01Z', '2026-01-01T10:00:00.999Z')).toBe(true);
    expect(isAfter('2026-01-01T09:00:00.000Z', '2026-01-01T10:00:00+02:00')).toBe(true);
    expect(isAfter('2025-12-31T23:59:59.999Z', '2026-01-01T00:00:00.000Z')).toBe(false);
  });

  it('keeps the first of two equal instants', () => {
    expect(laterOf('2026-01-01T10:00:00.000Z', '2026-01-01T10:00:00Z')).toBe('2026-01-01T10:00:00.000Z');
    expect(earlierOf('2026-01-01T10:00:00Z', '2026-01-01T10:00:00.000Z')).toBe('2026-01-01T10:00:00Z');
  });
});
