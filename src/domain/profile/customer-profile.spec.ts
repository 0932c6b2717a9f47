import { defaultEventTypes } from '../catalog/index.js';
import type { CustomerEvent } from '../customer-event.js';
import { canonicalProfile, evolveProfile, initialProfile, markProfileMerged, mergeProfiles, profileWith, type CustomerProfile } from './customer-profile.js';

const categories = new Map(defaultEventTypes.map(({ name, category }) => [name, category]));
const start = Date.UTC(2025, 2, 1, 10);
const minute = (minutes: number) => new Date(start + minutes * 60_000).toISOString();

type EventFields = Partial<Omit<CustomerEvent, 'type' | 'customerId' | 'revision'>>;

/** A customer's stream: each call appends the next event, at revision 0, 1, 2… */
function streamFor(customerId: string) {
  let revision = 0;
  const ids = customerId.startsWith('anon:') ? { anonymousId: customerId.slice(5) } : { userId: customerId };
  return (type: string, fields: EventFields = {}): CustomerEvent => {
    const category = categories.get(type);
    if (!category) throw new Error(`Not in the catalog: ${type}`);
    const at = revision;
    revision += 1;
    return {
      id: `${customerId}/${at}`,
      type,
      category,
      customerId,
      revision: at,
      position: String(at).padStart(10, '0'),
      occurredAt: minute(at),
      recordedAt: minute(at),
      ...ids,
      channel: 'web',
      properties: {},
      traits: {},
      context: {},
      personalDataReadable: true,
      ...fields,
    };
  };
}

type Expected = Partial<Omit<CustomerProfile, 'metrics'>> & { metrics?: Partial<CustomerProfile['metrics']> };

const fold = (profile: CustomerProfile | null, events: CustomerEvent[]) =>
  events.reduce<CustomerProfile | null>((current, event) => evolveProfile(current, event), profile);

function given(history: CustomerEvent[], profile: CustomerProfile | null = null) {
  const before = fold(profile, history);
  return {
    when(...events: CustomerEvent[]) {
      const after = fold(before, events) as CustomerProfile;
      return {
        then(expected: Expected): CustomerProfile {
          expect(after).toMatchObject(expected);
          return after;
        },
      };
    },
  };
}

const byteForByte = (profile: CustomerProfile | null) => JSON.stringify(profile);

function keysReversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(keysReversed);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([key, nested]) => [key, keysReversed(nested)]));
}

describe('customer profile', () => {
  const ada = streamFor('u-ada');
  const identified = ada('Identified', {
    traits: { email: ' Ada@Example.com ', first_name: 'Ada', last_name: 'Lovelace', phone: '+44 20 7946 0958', plan: 'pro' },
  });
  const pageViewed = ada('Page Viewed', { channel: 'web' });
  const screenViewed = ada('Screen Viewed', { channel: 'ios' });
  const orderCompleted = ada('Order Completed', { properties: { order_id: 'o-1', revenue: 40.1, total: 50 } });

  it('builds the profile a CRM shows from a customer’s events', () => {
    given([identified, pageViewed, screenViewed])
      .when(orderCompleted)
      .then({
        customerId: 'u-ada',
        version: 3,
        forgotten: false,
        identities: [
          { kind: 'USER_ID', value: 'u-ada' },
          { kind: 'EMAIL', value: 'ada@example.com' },
          { kind: 'PHONE', value: '+442079460958' },
        ],
        email: 'Ada@Example.com',
        name: 'Ada Lovelace',
        phone: '+44 20 7946 0958',
        traits: { email: ' Ada@Example.com ', first_name: 'Ada', last_name: 'Lovelace', phone: '+44 20 7946 0958', plan: 'pro' },
        firstSeenAt: minute(0),
        lastSeenAt: minute(3),
        channels: ['ios', 'web'],
        metrics: {
          events: 4,
          sessions: 1,
          pageViews: 2,
          orders: 1,
          revenue: 40.1,
          averageOrderValue: 40.1,
          returns: 0,
          openSupportTickets: 0,
        },
      });
  });

  it('gives the same profile folding a run of events in one go, put in canonical form once at the end', () => {
    const grace = streamFor('u-grace');
    const visitor = streamFor('anon:v-grace');
    const events = [
      grace('Identified', { traits: { email: 'grace@example.com', name: 'Grace', plan: 'free' } }),
      grace('Page Viewed', { channel: 'web', occurredAt: minute(90) }),
      grace('Support Ticket Created', { properties: { ticket_id: 't-1' } }),
      grace('Screen Viewed', { channel: 'ios', occurredAt: minute(5) }),
      grace('Identified', { traits: { first_name: 'Grace', last_name: 'Hopper', phone: '+1 555 0100', plan: 'pro' }, channel: 'crm' }),
      grace('Order Completed', { properties: { revenue: 12.5 }, occurredAt: minute(200) }),
      grace('Support Ticket Closed', { properties: { ticket_id: 't-1' } }),
      grace('Return Requested'),
    ];
    const visits = [visitor('Page Viewed', { channel: 'web', occurredAt: minute(1) }), visitor('Product Viewed', { channel: 'web', occurredAt: minute(300) })];
    const link = grace('Identity Linked', { properties: { previous_id: 'v-grace' } });
    const forget = grace('Customer Forgotten');
    const run = (history: CustomerEvent[]) => history.reduce<CustomerProfile | null>((profile, event) => profileWith(profile, event), null)!;

    // A repeated event is applied once either way.
    const replayed = [...events, events[2]!];
    expect(byteForByte(canonicalProfile(run(replayed)))).toBe(byteForByte(fold(null, replayed)));
    const merged = mergeProfiles(run(events), run(visits), link);
    expect(byteForByte(merged)).toBe(byteForByte(mergeProfiles(fold(null, events)!, fold(null, visits)!, link)));
    expect(byteForByte(canonicalProfile(profileWith(merged, forget)))).toBe(byteForByte(evolveProfile(merged, forget)));
  });

  it('counts revenue from `revenue`, else `total`, and only numbers', () => {
    const shopper = streamFor('u-shopper');
    given([
      shopper('Order Completed', { properties: { order_id: 1, revenue: 10.1 } }),
      shopper('Order Completed', { properties: { order_id: 2, total: 20.2 } }),
      shopper('Order Completed', { properties: { order_id: 3, revenue: '99' } }),
    ])
      .when(shopper('Return Requested', { properties: { order_id: 1 } }))
      .then({ metrics: { orders: 3, revenue: 30.3, averageOrderValue: 10.1, returns: 1 } });
  });

  it('has no average order value before the first order', () => {
    given([]).when(pageViewed).then({ metrics: { orders: 0, revenue: 0, averageOrderValue: null } });
  });

  it('counts open support tickets by ticket id, whatever order creates and closes arrive in, never below zero', () => {
    const caller = streamFor('u-caller');
    given([
      caller('Support Ticket Created', { properties: { ticket_id: 't-1' } }),
      caller('Support Ticket Created', { properties: { ticket_id: 7 } }),
      caller('Support Ticket Closed', { properties: { ticket_id: 't-2' } }),
      caller('Support Ticket Created', { properties: { ticket_id: 't-2' } }),
      caller('Support Ticket Created', { properties: { ticket_id: 't-1' } }),
    ])
      .when(caller('Support Ticket Closed', { properties: { ticket_id: '7' } }))
      .then({
        metrics: { openSupportTickets: 1 },
        supportTickets: { byId: { '7': 'CLOSED', 't-1': 'OPEN', 't-2': 'CLOSED' }, openWithoutId: 0 },
      });

    const withoutIds = streamFor('u-no-ids');
    given([withoutIds('Support Ticket Closed'), withoutIds('Support Ticket Closed')])
      .when(withoutIds('Support Ticket Created'))
      .then({ metrics: { openSupportTickets: 1 } });
  });

  describe('late events', () => {
    const grace = streamFor('u-grace');
    const renamed = grace('Identified', { occurredAt: minute(60), traits: { name: 'Grace Hopper', plan: 'team' } });
    const lateOldTraits = grace('Identified', { occurredAt: minute(10), traits: { name: 'G. Murray', plan: 'free', city: 'NYC' } });

    it('keeps the newest value of each trait by occurredAt, so a late event never overwrites newer data', () => {
      given([renamed])
        .when(lateOldTraits)
        .then({
          name: 'Grace Hopper',
          traits: { city: 'NYC', name: 'Grace Hopper', plan: 'team' },
          traitsUpdatedAt: { city: minute(10), name: minute(60), plan: minute(60) },
        });
    });

    it('takes first and last names over `name` when they were set more recently, camelCase too', () => {
      given([renamed])
        .when(grace('Identified', { occurredAt: minute(90), traits: { firstName: 'Amazing', last_name: 'Grace' } }))
        .then({ name: 'Amazing Grace' });
      given([grace('Identified', { occurredAt: minute(90), traits: { firstName: 'Amazing' } })])
        .when(grace('Identified', { occurredAt: minute(5), traits: { name: 'Grace Hopper' } }))
        .then({ name: 'Amazing' });
    });

    it('keeps first and last seen as the earliest and latest occurredAt', () => {
      given([grace('Page Viewed', { occurredAt: minute(100) })])
        .when(grace('Page Viewed', { occurredAt: minute(-300) }), grace('Page Viewed', { occurredAt: minute(50) }))
        .then({ firstSeenAt: minute(-300), lastSeenAt: minute(100) });
    });

    it('counts sessions correctly when events arrive out of order', () => {
      const visits = [0, 20, 45, 200, 215, 400].map((at) => ({ occurredAt: minute(at) }));
      const inOrder = streamFor('u-visitor');
      const shuffled = streamFor('u-visitor');
      const inOrderProfile = fold(null, visits.map((fields) => inOrder('Page Viewed', fields)));
      const shuffledProfile = fold(null, [5, 2, 0, 4, 1, 3].map((index) => shuffled('Page Viewed', visits[index])));
      expect(inOrderProfile?.metrics.sessions).toBe(3);
      expect(shuffledProfile).toEqual(inOrderProfile);

      given([inOrder('Page Viewed', { occurredAt: minute(1000) }), inOrder('Page Viewed', { occurredAt: minute(1050) })])
        .when(inOrder('Page Viewed', { occurredAt: minute(1025) }))
        .then({ metrics: { sessions: 1 } });
    });
  });

  describe('duplicate delivery', () => {
    it('applies a redelivered event once', () => {
      given([identified, pageViewed, orderCompleted])
        .when(orderCompleted, pageViewed)
        .then({ version: 3, metrics: { events: 3, pageViews: 1, orders: 1, revenue: 40.1 } });
    });

    it('returns the same profile for an event at or below the applied revision', () => {
      const profile = fold(null, [identified, pageViewed, screenViewed]);
      expect(evolveProfile(profile, identified)).toBe(profile);
    });
  });

  describe('system events', () => {
    it('are counted but are not the customer’s activity', () => {
      const quiet = streamFor('u-quiet');
      given([quiet('Page Viewed', { occurredAt: minute(0) })])
        .when(quiet('Customer Went Dormant', { occurredAt: minute(90 * 24 * 60), channel: 'scheduler' }))
        .then({ lastSeenAt: minute(0), channels: ['web'], metrics: { events: 2, sessions: 1 } });
    });
  });

  describe('identity linking', () => {
    const anonymous = streamFor('anon:a-1');
    const anonymousHistory = [
      anonymous('Ad Clicked', { occurredAt: minute(0), channel: 'ads' }),
      anonymous('Page Viewed', { occurredAt: minute(5) }),
      anonymous('Identified', { occurredAt: minute(6), traits: { email: 'lin@example.com', plan: 'free' } }),
      anonymous('Product Added', { occurredAt: minute(10) }),
    ];
    const lin = streamFor('u-lin');
    const signedUp = lin('Signed Up', { occurredAt: minute(20), traits: { name: 'Lin', plan: 'pro' } });
    const link = lin('Identity Linked', { occurredAt: minute(21), properties: { previous_id: 'a-1' } });
    const laterAnonymous = anonymous('Page Viewed', { occurredAt: minute(25) });
    const userOrder = lin('Order Completed', { occurredAt: minute(30), properties: { order_id: 'o-9', revenue: 25 } });

    const linkedProfile: Expected = {
      customerId: 'u-lin',
      version: 1,
      identities: [
        { kind: 'USER_ID', value: 'u-lin' },
        { kind: 'ANONYMOUS_ID', value: 'a-1' },
        { kind: 'EMAIL', value: 'lin@example.com' },
      ],
      email: 'lin@example.com',
      name: 'Lin',
      traits: { email: 'lin@example.com', name: 'Lin', plan: 'pro' },
      firstSeenAt: minute(0),
      lastSeenAt: minute(21),
      channels: ['ads', 'web'],
      metrics: { events: 6, sessions: 1, pageViews: 1 },
      appliedRevisions: [['anon:a-1', 3], ['u-lin', 1]],
    };

    it('folds the anonymous history into the user’s profile on the link', () => {
      const anonymousProfile = fold(null, anonymousHistory) as CustomerProfile;
      const user = fold(null, [signedUp]) as CustomerProfile;
      expect(mergeProfiles(user, anonymousProfile, link)).toMatchObject(linkedProfile);
    });

    it('folds once: merging twice, or merging an anonymous profile already marked, changes nothing', () => {
      const anonymousProfile = fold(null, anonymousHistory) as CustomerProfile;
      const merged = mergeProfiles(fold(null, [signedUp]) as CustomerProfile, anonymousProfile, link);
      expect(mergeProfiles(merged, anonymousProfile, link)).toEqual(merged);

      const marked = markProfileMerged(anonymousProfile, 'u-lin');
      expect(marked.mergedInto).toBe('u-lin');
      const secondLink = lin('Identity Linked', { occurredAt: minute(22), properties: { previous_id: 'a-1' } });
      expect(mergeProfiles(merged, marked, secondLink)).toMatchObject({ metrics: { events: 7, sessions: 1, pageViews: 1 } });
    });

    it('applies anonymous events that arrive after the merge to the user’s profile, once', () => {
      const merged = mergeProfiles(fold(null, [signedUp]) as CustomerProfile, fold(null, anonymousHistory) as CustomerProfile, link);
      given([laterAnonymous, userOrder], merged)
        .when(laterAnonymous, anonymousHistory[1])
        .then({ version: 2, metrics: { events: 8, pageViews: 2, orders: 1 }, appliedRevisions: [['anon:a-1', 4], ['u-lin', 2]] });
    });

    it('gives the same profile whether the link comes before or after the anonymous history', () => {
      const afterHistory = fold(
        mergeProfiles(fold(null, [signedUp]) as CustomerProfile, fold(null, anonymousHistory) as CustomerProfile, link),
        [laterAnonymous],
      );
      const beforeHistory = fold(
        mergeProfiles(fold(null, [signedUp]) as CustomerProfile, initialProfile('anon:a-1'), link),
        [...anonymousHistory, laterAnonymous],
      );
      expect(beforeHistory).toMatchObject({
        ...linkedProfile,
        lastSeenAt: minute(25),
        metrics: { events: 7, pageViews: 2 },
        appliedRevisions: [['anon:a-1', 4], ['u-lin', 1]],
      });
      // Traits set before the link have older timestamps, so the order of folding does not change them.
      expect(byteForByte(beforeHistory)).toBe(byteForByte(afterHistory));
    });

    it('keeps the newer trait of the two profiles, and counts one session for a visit spanning the sign-in', () => {
      const anonymousProfile = fold(null, [
        ...anonymousHistory,
        anonymous('Identified', { occurredAt: minute(40), traits: { plan: 'enterprise' } }),
      ]) as CustomerProfile;
      expect(mergeProfiles(fold(null, [signedUp]) as CustomerProfile, anonymousProfile, link)).toMatchObject({
        traits: { plan: 'enterprise' },
        traitsUpdatedAt: { plan: minute(40) },
        metrics: { sessions: 1 },
      });
    });

    it('refuses to fold a profile the link does not name', () => {
      expect(() => mergeProfiles(initialProfile('u-lin'), initialProfile('anon:someone-else'), link)).toThrow(
        'does not link anon:someone-else',
      );
    });
  });

  describe('forgotten customers', () => {
    const forgotten = ada('Customer Forgotten', { occurredAt: minute(10), channel: undefined, properties: { request_id: 'r-1' } });

    it('lose every personal value and keep their counts', () => {
      given([identified, pageViewed, orderCompleted])
        .when(forgotten)
        .then({
          forgotten: true,
          identities: [{ kind: 'USER_ID', value: 'u-ada' }],
          email: null,
          name: null,
          phone: null,
          traits: {},
          traitsUpdatedAt: {},
          metrics: { events: 4, pageViews: 1, orders: 1, revenue: 40.1 },
        });
    });

    it('keep counting later events without taking personal data from them', () => {
      given([identified, forgotten])
        .when(ada('Identified', { occurredAt: minute(20), traits: { email: 'ada@new.example', name: 'Ada' } }), ada('Page Viewed'))
        .then({
          email: null,
          name: null,
          traits: {},
          identities: [{ kind: 'USER_ID', value: 'u-ada' }],
          metrics: { events: 4, pageViews: 1 },
        });
    });

    it('take no personal data from an anonymous profile folded in after', () => {
      const anonymous = streamFor('anon:a-2');
      const anonymousProfile = fold(null, [anonymous('Identified', { traits: { email: 'a2@example.com' } })]) as CustomerProfile;
      const link = ada('Identity Linked', { occurredAt: minute(30), properties: { previous_id: 'a-2' } });
      expect(mergeProfiles(fold(null, [identified, forgotten]) as CustomerProfile, anonymousProfile, link)).toMatchObject({
        email: null,
        traits: {},
        identities: [
          { kind: 'USER_ID', value: 'u-ada' },
          { kind: 'ANONYMOUS_ID', value: 'a-2' },
        ],
        metrics: { events: 4 },
      });
    });
  });

  it('counts events whose personal data is no longer readable, without any personal value', () => {
    const shredded = streamFor('u-shredded');
    given([])
      .when(shredded('Identified', { personalDataReadable: false, traits: { email: 'gone@example.com', name: 'Gone' } }))
      .then({ email: null, name: null, traits: {}, identities: [{ kind: 'USER_ID', value: 'u-shredded' }], metrics: { events: 1 } });
  });

  it('stores the same JSON after a round trip through jsonb, which does not keep key order', () => {
    const profile = fold(null, [identified, pageViewed]) as CustomerProfile;
    const reloaded = keysReversed(profile) as CustomerProfile;
    expect(byteForByte(reloaded)).not.toBe(byteForByte(profile));
    expect(byteForByte(evolveProfile(reloaded, orderCompleted))).toBe(byteForByte(evolveProfile(profile, orderCompleted)));
  });
});
