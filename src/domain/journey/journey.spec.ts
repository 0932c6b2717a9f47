import { defaultEventTypes, eventCategories } from '../catalog/index.js';
import type { CustomerEvent } from '../customer-event.js';
import {
  cartAbandonmentProperties,
  dormancyProperties,
  dueForCartAbandonment,
  dueForDormancy,
  evolveJourney,
  markJourneyMerged,
  mergeJourneys,
  type JourneyState,
  type JourneyStep,
  type StageTransition,
} from './journey.js';
import { stageRules } from './stage-rules.js';

const categories = new Map(defaultEventTypes.map(({ name, category }) => [name, category]));
const start = Date.UTC(2025, 2, 1, 10);
const minute = (minutes: number) => new Date(start + minutes * 60_000).toISOString();
const day = (days: number) => minute(days * 24 * 60);
const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;

type EventFields = Partial<Omit<CustomerEvent, 'type' | 'customerId' | 'revision'>>;

/** A customer's stream: each call appends the next event, at revision 0, 1, 2…, one minute apart by default. */
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

const fold = (state: JourneyState | null, events: CustomerEvent[]) =>
  events.reduce<JourneyState | null>((current, event) => evolveJourney(current, event).state, state);

/** given(history).when(event).then(expected state).moved(transition) / .stayed() */
function given(history: CustomerEvent[], state: JourneyState | null = null) {
  const before = fold(state, history);
  return {
    when(event: CustomerEvent) {
      const step: JourneyStep = evolveJourney(before, event);
      return {
        then(expected: Partial<JourneyState>) {
          expect(step.state).toMatchObject(expected);
          return {
            moved(transition: Partial<StageTransition>) {
              expect(step.transition).toMatchObject(transition);
            },
            stayed() {
              expect(step.transition).toBeUndefined();
            },
          };
        },
      };
    },
  };
}

describe('journey stage', () => {
  describe('stage rules', () => {
    it('maps every catalog category to a stage, IDENTITY and SYSTEM to none', () => {
      expect(Object.keys(stageRules.stageOfCategory).sort()).toEqual([...eventCategories].sort());
      expect(stageRules.stageOfCategory.IDENTITY).toBeNull();
      expect(stageRules.stageOfCategory.SYSTEM).toBeNull();
    });

    it.each([
      ['Ad Clicked', 'DISCOVERY'],
      ['Page Viewed', 'ENGAGEMENT'],
      ['Product Added', 'CONVERSION'],
      ['Order Shipped', 'POST_PURCHASE'],
      ['Loyalty Program Joined', 'RETENTION'],
      ['Identified', 'DISCOVERY'],
      ['Identity Linked', 'DISCOVERY'],
      ['Cart Abandoned', 'DISCOVERY'],
      ['Customer Forgotten', 'DISCOVERY'],
      ['Customer Went Dormant', 'DORMANT'],
    ])('starts a new customer whose first event is %s in %s', (type, stage) => {
      const newcomer = streamFor('u-new');
      given([])
        .when(newcomer(type))
        .then({ customerId: 'u-new', stage: stage as JourneyState['stage'], enteredAt: minute(0) })
        .moved({
          customerId: 'u-new',
          from: null,
          to: stage as JourneyState['stage'],
          at: minute(0),
          eventType: type,
          secondsInPreviousStage: null,
        });
    });

    it('moves forward through the lifecycle with the event that caused each move', () => {
      const shopper = streamFor('u-shopper');
      const productViewed = shopper('Product Viewed', { occurredAt: minute(0) });
      const productAdded = shopper('Product Added', { occurredAt: minute(5) });
      const orderCompleted = shopper('Order Completed', { occurredAt: minute(12), properties: { order_id: 'o-1' } });
      given([productViewed, productAdded])
        .when(orderCompleted)
        .then({ stage: 'CONVERSION', enteredAt: minute(5), completedOrders: 1 })
        .stayed();
      given([productViewed])
        .when(productAdded)
        .then({ stage: 'CONVERSION', enteredAt: minute(5) })
        .moved({ from: 'ENGAGEMENT', to: 'CONVERSION', at: minute(5), eventType: 'Product Added', secondsInPreviousStage: 300 });
    });

    it('skips stages forward', () => {
      const gifted = streamFor('u-gifted');
      given([gifted('Ad Clicked')])
        .when(gifted('Order Delivered', { properties: { order_id: 'o-1' } }))
        .then({ stage: 'POST_PURCHASE' })
        .moved({ from: 'DISCOVERY', to: 'POST_PURCHASE' });
    });

    it('never moves back', () => {
      const shopper = streamFor('u-shopper');
      given([shopper('Ad Clicked'), shopper('Checkout Started')])
        .when(shopper('Page Viewed'))
        .then({ stage: 'CONVERSION', enteredAt: minute(1) })
        .stayed();
      given([shopper('Order Shipped', { properties: { order_id: 'o-1' } })])
        .when(shopper('Ad Impression'))
        .then({ stage: 'POST_PURCHASE' })
        .stayed();
    });

    it('moves to RETENTION on the second completed order, from any stage', () => {
      const repeat = streamFor('u-repeat');
      const firstOrder = repeat('Order Completed', { properties: { order_id: 'o-1' } });
      const shipped = repeat('Order Shipped', { properties: { order_id: 'o-1' } });
      given([firstOrder, shipped])
        .when(repeat('Order Completed', { properties: { order_id: 'o-2' } }))
        .then({ stage: 'RETENTION', completedOrders: 2 })
        .moved({ from: 'POST_PURCHASE', to: 'RETENTION', eventType: 'Order Completed' });
    });

    it('does not move on Cart Abandoned or Customer Forgotten', () => {
      const customer = streamFor('u-customer');
      given([customer('Page Viewed')])
        .when(customer('Cart Abandoned'))
        .then({ stage: 'ENGAGEMENT' })
        .stayed();
      given([customer('Page Viewed')])
        .when(customer('Customer Forgotten'))
        .then({ stage: 'ENGAGEMENT' })
        .stayed();
    });

    it('does not move on identity events', () => {
      const customer = streamFor('u-customer');
      given([customer('Product Added')])
        .when(customer('Identified', { traits: { email: 'x@example.com' } }))
        .then({ stage: 'CONVERSION' })
        .stayed();
    });
  });

  describe('dormancy', () => {
    const sleeper = streamFor('u-sleeper');
    const loyal = [
      sleeper('Order Completed', { occurredAt: day(0), properties: { order_id: 'o-1' } }),
      sleeper('Order Completed', { occurredAt: day(1), properties: { order_id: 'o-2' } }),
    ];
    const wentDormant = sleeper('Customer Went Dormant', { occurredAt: day(100), properties: { last_seen_at: day(1) } });

    it('moves to DORMANT on Customer Went Dormant', () => {
      given(loyal)
        .when(wentDormant)
        .then({ stage: 'DORMANT', enteredAt: day(100) })
        .moved({ from: 'RETENTION', to: 'DORMANT', eventType: 'Customer Went Dormant', secondsInPreviousStage: 99 * 86_400 });
    });

    it('re-enters the stage that new activity implies, even a lower one', () => {
      given([...loyal, wentDormant])
        .when(sleeper('Ad Clicked', { occurredAt: day(120) }))
        .then({ stage: 'DISCOVERY', enteredAt: day(120) })
        .moved({ from: 'DORMANT', to: 'DISCOVERY', secondsInPreviousStage: 20 * 86_400 });
    });

    it('is not woken by events that imply no stage', () => {
      given([...loyal, wentDormant])
        .when(sleeper('Identified', { occurredAt: day(120) }))
        .then({ stage: 'DORMANT', lastActivityAt: day(120) })
        .stayed();
      given([...loyal, wentDormant])
        .when(sleeper('Cart Abandoned', { occurredAt: day(120) }))
        .then({ stage: 'DORMANT' })
        .stayed();
    });

    it('is not woken by a late event that happened before the dormancy was recorded', () => {
      given([...loyal, wentDormant])
        .when(sleeper('Page Viewed', { occurredAt: day(50) }))
        .then({ stage: 'DORMANT', enteredAt: day(100), lastActivityAt: day(50) })
        .stayed();
    });

    it('ignores a dormancy decided before activity that the log recorded first', () => {
      const raced = streamFor('u-raced');
      const orders = [
        raced('Order Completed', { occurredAt: day(0), properties: { order_id: 'o-1' } }),
        raced('Order Completed', { occurredAt: day(1), properties: { order_id: 'o-2' } }),
      ];
      given([...orders, raced('Page Viewed', { occurredAt: day(99) })])
        .when(raced('Customer Went Dormant', { occurredAt: day(100), properties: { last_seen_at: day(1) } }))
        .then({ stage: 'RETENTION', lastActivityAt: day(99), dormancyRecordedFor: day(1) })
        .stayed();
    });
  });

  describe('late and duplicate events', () => {
    it('moves forward on a late event without a negative time in the previous stage', () => {
      const offline = streamFor('u-offline');
      given([offline('Page Viewed', { occurredAt: minute(60) })])
        .when(offline('Product Added', { occurredAt: minute(30) }))
        .then({ stage: 'CONVERSION', enteredAt: minute(30), lastActivityAt: minute(60) })
        .moved({ from: 'ENGAGEMENT', to: 'CONVERSION', at: minute(30), secondsInPreviousStage: 0 });
    });

    it('applies a redelivered event once: no second transition and no second order', () => {
      const twice = streamFor('u-twice');
      const pageViewed = twice('Page Viewed');
      const orderCompleted = twice('Order Completed', { properties: { order_id: 'o-1' } });
      given([pageViewed, orderCompleted])
        .when(orderCompleted)
        .then({ stage: 'CONVERSION', completedOrders: 1 })
        .stayed();
      const state = fold(null, [pageViewed]);
      expect(evolveJourney(state, pageViewed)).toEqual({ state });
    });
  });

  describe('identity linking', () => {
    const anonymous = streamFor('anon:a-1');
    const anonymousHistory = [
      anonymous('Ad Clicked', { occurredAt: minute(0) }),
      anonymous('Product Added', { occurredAt: minute(5) }),
      anonymous('Order Completed', { occurredAt: minute(8), properties: { order_id: 'o-1' } }),
    ];
    const user = streamFor('u-lin');
    const signedUp = user('Signed Up', { occurredAt: minute(20) });
    const link = user('Identity Linked', { occurredAt: minute(21), properties: { previous_id: 'a-1' } });
    const laterAnonymous = anonymous('Order Completed', { occurredAt: minute(25), properties: { order_id: 'o-2' } });

    it('takes the later lifecycle stage of the two, caused by the link', () => {
      const step = mergeJourneys(fold(null, [signedUp]), fold(null, anonymousHistory), link);
      expect(step.state).toMatchObject({
        customerId: 'u-lin',
        stage: 'CONVERSION',
        enteredAt: minute(21),
        completedOrders: 1,
        lastActivityAt: minute(21),
        appliedRevisions: [['anon:a-1', 2], ['u-lin', 1]],
      });
      expect(step.transition).toEqual({
        customerId: 'u-lin',
        from: 'ENGAGEMENT',
        to: 'CONVERSION',
        at: minute(21),
        eventType: 'Identity Linked',
        secondsInPreviousStage: 60,
      });
    });

    it('keeps the user’s stage when it is the later one, and ranks DORMANT below everything', () => {
      const loyalUser = streamFor('u-loyal');
      const joined = loyalUser('Loyalty Program Joined', { occurredAt: minute(15) });
      const loyalLink = loyalUser('Identity Linked', { occurredAt: minute(21), properties: { previous_id: 'a-1' } });
      const kept = mergeJourneys(fold(null, [joined]), fold(null, anonymousHistory), loyalLink);
      expect(kept.state).toMatchObject({ stage: 'RETENTION', enteredAt: minute(15), completedOrders: 1 });
      expect(kept.transition).toBeUndefined();

      const sleepingUser = streamFor('u-sleeping');
      const dormantUser = fold(null, [
        sleepingUser('Page Viewed', { occurredAt: day(-100) }),
        sleepingUser('Customer Went Dormant', { occurredAt: day(-10) }),
      ]);
      const sleepingLink = sleepingUser('Identity Linked', { occurredAt: minute(21), properties: { previous_id: 'a-1' } });
      expect(dormantUser?.stage).toBe('DORMANT');
      const awake = mergeJourneys(dormantUser, fold(null, [anonymousHistory[0]]), sleepingLink);
      expect(awake.state.stage).toBe('DISCOVERY');
      expect(awake.transition).toMatchObject({ from: 'DORMANT', to: 'DISCOVERY', eventType: 'Identity Linked' });
    });

    it('adds up orders, so the next order after the link is the second', () => {
      const merged = mergeJourneys(fold(null, [signedUp]), fold(null, anonymousHistory), link).state;
      given([], merged)
        .when(user('Order Completed', { occurredAt: minute(30), properties: { order_id: 'o-3' } }))
        .then({ stage: 'RETENTION', completedOrders: 2 })
        .moved({ from: 'CONVERSION', to: 'RETENTION' });
    });

    it('merges once: a second merge, or a marked anonymous state, changes nothing and moves nothing', () => {
      const anonymousState = fold(null, anonymousHistory) as JourneyState;
      const merged = mergeJourneys(fold(null, [signedUp]), anonymousState, link).state;
      expect(mergeJourneys(merged, anonymousState, link)).toEqual({ state: merged });

      const marked = markJourneyMerged(anonymousState, 'u-lin');
      expect(marked.mergedInto).toBe('u-lin');
      const secondLink = user('Identity Linked', { occurredAt: minute(22), properties: { previous_id: 'a-1' } });
      const again = mergeJourneys(merged, marked, secondLink);
      expect(again.transition).toBeUndefined();
      expect(again.state.completedOrders).toBe(1);
    });

    it('applies anonymous events after the merge to the user’s journey once', () => {
      const merged = mergeJourneys(fold(null, [signedUp]), fold(null, anonymousHistory), link).state;
      given([laterAnonymous], merged)
        .when(laterAnonymous)
        .then({ customerId: 'u-lin', stage: 'RETENTION', completedOrders: 2 })
        .stayed();
      given([], merged)
        .when(anonymousHistory[2])
        .then({ completedOrders: 1 })
        .stayed();
    });

    it('reaches the same stage when the link comes before the anonymous history', () => {
      const linkedFirst = mergeJourneys(fold(null, [signedUp]), null, link);
      expect(linkedFirst.transition).toBeUndefined();
      const afterwards = fold(linkedFirst.state, [...anonymousHistory, laterAnonymous]);
      expect(afterwards).toMatchObject({ stage: 'RETENTION', completedOrders: 2, appliedRevisions: [['anon:a-1', 3], ['u-lin', 1]] });
    });

    it("continues the visitor's journey for a user whose first event is the link: same stage, same entry, no new move", () => {
      const visitor = fold(null, anonymousHistory)!;
      const step = mergeJourneys(null, visitor, link);
      expect(visitor.stage).toBe('CONVERSION');
      expect(step.state).toMatchObject({ customerId: 'u-lin', stage: 'CONVERSION', enteredAt: visitor.enteredAt });
      expect(step.transition).toBeUndefined();
    });

    it('refuses to merge a state the link does not name', () => {
      const stranger = fold(null, [streamFor('anon:stranger')('Ad Clicked')]);
      expect(() => mergeJourneys(null, stranger, link)).toThrow('does not link anon:stranger');
    });
  });

  describe('dormancy scheduler', () => {
    const quiet = streamFor('u-quiet');
    const active = fold(null, [quiet('Page Viewed', { occurredAt: day(0) }), quiet('Product Viewed', { occurredAt: day(2) })]);
    const after30Days = 30 * DAY;

    it('is due once the last activity is older than the delay, and only once', () => {
      expect(dueForDormancy(null, day(100), after30Days)).toBe(false);
      expect(dueForDormancy(active, day(32), after30Days)).toBe(false);
      expect(dueForDormancy(active, day(33), after30Days)).toBe(true);

      const properties = dormancyProperties(active as JourneyState, day(33));
      expect(properties).toEqual({ last_seen_at: day(2), inactive_days: 31 });
      const dormant = fold(active, [quiet('Customer Went Dormant', { occurredAt: day(33), properties })]);
      expect(dormant?.stage).toBe('DORMANT');
      expect(dueForDormancy(dormant, day(33), after30Days)).toBe(false);
      expect(dueForDormancy(dormant, day(400), after30Days)).toBe(false);
    });

    it('is not re-armed by system events or non-waking activity, and is re-armed by new activity', () => {
      const dormant = fold(active, [quiet('Customer Went Dormant', { occurredAt: day(33), properties: { last_seen_at: day(2) } })]);
      const identified = fold(dormant, [quiet('Identified', { occurredAt: day(40) })]);
      expect(identified?.stage).toBe('DORMANT');
      expect(dueForDormancy(identified, day(200), after30Days)).toBe(false);

      const back = fold(dormant, [quiet('Page Viewed', { occurredAt: day(50) })]);
      expect(back?.stage).toBe('ENGAGEMENT');
      expect(dueForDormancy(back, day(70), after30Days)).toBe(false);
      const stillQuiet = fold(back, [quiet('Cart Abandoned', { occurredAt: day(60) })]);
      expect(dueForDormancy(stillQuiet, day(81), after30Days)).toBe(true);
    });

    it('remembers a dormancy recorded for the current activity even if the customer is no longer DORMANT by a merge', () => {
      const dormant = fold(active, [quiet('Customer Went Dormant', { occurredAt: day(33) })]);
      expect(dormant?.dormancyRecordedFor).toBe(day(2));
      expect(dueForDormancy({ ...(dormant as JourneyState), stage: 'ENGAGEMENT' }, day(40), after30Days)).toBe(false);
    });
  });

  describe('cart abandonment scheduler', () => {
    const cart = streamFor('u-cart');
    const withCart = fold(null, [cart('Page Viewed', { occurredAt: minute(-5) }), cart('Product Added', { occurredAt: minute(0) })]);
    const afterAnHour = HOUR;

    it('is due once per open cart when no checkout followed within the delay', () => {
      expect(dueForCartAbandonment(withCart, minute(60), afterAnHour)).toBe(false);
      expect(dueForCartAbandonment(withCart, minute(61), afterAnHour)).toBe(true);

      const properties = cartAbandonmentProperties(withCart as JourneyState);
      expect(properties).toEqual({ last_activity_at: minute(0) });
      const abandoned = fold(withCart, [cart('Cart Abandoned', { occurredAt: minute(61), properties })]);
      expect(abandoned?.stage).toBe('CONVERSION');
      expect(dueForCartAbandonment(abandoned, minute(61), afterAnHour)).toBe(false);
      expect(dueForCartAbandonment(abandoned, day(30), afterAnHour)).toBe(false);

      const addedAgain = fold(abandoned, [cart('Product Added', { occurredAt: minute(90) })]);
      expect(dueForCartAbandonment(addedAgain, minute(150), afterAnHour)).toBe(false);
      expect(dueForCartAbandonment(addedAgain, minute(151), afterAnHour)).toBe(true);
    });

    it('is not due when a checkout started or an order completed after the last product added', () => {
      const checkedOut = fold(withCart, [cart('Checkout Started', { occurredAt: minute(20) })]);
      expect(dueForCartAbandonment(checkedOut, day(1), afterAnHour)).toBe(false);
      const ordered = fold(withCart, [cart('Order Completed', { occurredAt: minute(20), properties: { order_id: 'o-1' } })]);
      expect(dueForCartAbandonment(ordered, day(1), afterAnHour)).toBe(false);
    });

    it('is not reopened by a late product added before the checkout', () => {
      const checkedOut = fold(withCart, [cart('Checkout Started', { occurredAt: minute(20) })]);
      const late = fold(checkedOut, [cart('Product Added', { occurredAt: minute(10) })]);
      expect(late?.cart).toEqual({ lastProductAddedAt: minute(10), lastCheckoutAt: minute(20), abandonmentRecordedFor: null });
      expect(dueForCartAbandonment(late, day(1), afterAnHour)).toBe(false);
    });

    it('stays due for a product added after the one a recorded abandonment covers', () => {
      const addedMeanwhile = fold(withCart, [cart('Product Added', { occurredAt: minute(70) })]);
      const staleDecision = cart('Cart Abandoned', { occurredAt: minute(71), properties: { last_activity_at: minute(0) } });
      const abandoned = fold(addedMeanwhile, [staleDecision]);
      expect(dueForCartAbandonment(abandoned, minute(131), afterAnHour)).toBe(true);
    });
  });
});
