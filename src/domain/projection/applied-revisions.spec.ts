import { evolveProfile, initialProfile } from '../profile/index.js';
import type { CustomerEvent } from '../customer-event.js';
import { alreadyApplied, appliedRevisionOf, coversRevisions, sortedRevisions, unionOfRevisions, withApplied } from './applied-revisions.js';

describe('applied revisions', () => {
  const at = (customerId: string, revision: number) => ({ customerId, revision });

  it('keeps one pair per stream, in the streams’ code-point order', () => {
    let applied = withApplied([], at('u-9', 0));
    applied = withApplied(applied, at('anon:b', 0));
    applied = withApplied(applied, at('u-10', 0));
    applied = withApplied(applied, at('u-9', 3));
    expect(applied).toEqual([
      ['anon:b', 0],
      ['u-10', 0],
      ['u-9', 3],
    ]);
    expect(alreadyApplied(applied, at('u-9', 3))).toBe(true);
    expect(alreadyApplied(applied, at('u-9', 4))).toBe(false);
    expect(alreadyApplied(applied, at('u-1', 0))).toBe(false);
  });

  it('returns the same pairs, not a copy, when the event is not newer than what was applied', () => {
    const applied = withApplied([['u-1', 5]], at('u-1', 2));
    expect(withApplied(applied, at('u-1', 5))).toBe(applied);
  });

  it('reads the object that states stored before the pairs kept, and writes pairs', () => {
    const stored = { 'u-1': 4, 'anon:a': 2 };
    expect(alreadyApplied(stored, at('u-1', 4))).toBe(true);
    expect(alreadyApplied(stored, at('u-1', 5))).toBe(false);
    expect(appliedRevisionOf(stored, 'anon:a')).toBe(2);
    // "constructor" is a customer id like any other, not Object.prototype's member.
    expect(appliedRevisionOf(stored, 'constructor')).toBeUndefined();
    expect(withApplied(stored, at('u-1', 5))).toEqual([
      ['anon:a', 2],
      ['u-1', 5],
    ]);
    expect(sortedRevisions(stored)).toEqual([
      ['anon:a', 2],
      ['u-1', 4],
    ]);
    expect(unionOfRevisions(stored, [['anon:a', 3], ['anon:c', 0]])).toEqual([
      ['anon:a', 3],
      ['anon:c', 0],
      ['u-1', 4],
    ]);
    expect(coversRevisions(stored, [['anon:a', 2]])).toBe(true);
    expect(coversRevisions([['anon:a', 1]], stored)).toBe(false);
  });

  it('lets a profile stored with the object form go on from where it was', () => {
    const event = (revision: number): CustomerEvent =>
      ({
        id: `e-${revision}`,
        type: 'Page Viewed',
        category: 'ENGAGEMENT',
        customerId: 'u-1',
        revision,
        position: `p-${revision}`,
        occurredAt: '2026-11-01T09:00:00Z',
        recordedAt: '2026-11-01T09:00:01Z',
        properties: {},
        traits: {},
        context: {},
        personalDataReadable: true,
      }) as CustomerEvent;
    const stored = { ...initialProfile('u-1'), version: 1, metrics: { ...initialProfile('u-1').metrics, events: 2 }, appliedRevisions: { 'u-1': 1 } };
    expect(evolveProfile(stored, event(1))).toBe(stored);
    const next = evolveProfile(stored, event(2));
    expect(next).toMatchObject({ version: 2, metrics: { events: 3 }, appliedRevisions: [['u-1', 2]] });
  });
});
