import type { SegmentCall } from '../domain/ingestion/segment.js';
import type { LifecycleStage } from '../domain/journey/stage-rules.js';
import { createRandom, seedOf, uuidOf, type Random } from './random.js';

type Json = Record<string, unknown>;

/**
 * A Segment HTTP Tracking API message, as a client library sends it in a `/v1/batch` body.
 * (A type rather than an interface, so that it passes as a plain JSON record.)
 */
export type DemoMessage = {
  type: SegmentCall;
  /** The idempotency key: `demo-<seed>-<customer>-<step>`, so a re-run re-sends the same ids. */
  messageId: string;
  anonymousId?: string;
  userId?: string;
  /** `track` calls: the event type. */
  event?: string;
  /** `page` and `screen` calls. */
  name?: string;
  properties?: Json;
  /** `identify` and `group` calls. */
  traits?: Json;
  /** `group` calls. */
  groupId?: string;
  /** `alias` calls: the anonymous id the user id takes over. */
  previousId?: string;
  channel?: string;
  context?: Json;
  timestamp: string;
};

export interface JourneyOptions {
  customers: number;
  seed: number;
  /** ISO 8601: the beginning of the simulated window. */
  start: string;
  /** Length of the window; no message is at or after `start + days`. */
  days: number;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Customers first show up in this leading share of the window, so the latest ones still get somewhere. */
const ARRIVAL_SHARE = 0.9;
const SHOP = 'https://shop.example.com';
const LIBRARY = { name: 'trailmap-demo', version: '1.0.0' };

/**
 * Simulated customer journeys as Segment messages, in non-decreasing `timestamp` order over the
 * window. Pure and deterministic: the same options give the same messages, ids included. Customers
 * join a heap-ordered merge as their arrival comes up and leave it when their journey ends, so
 * memory follows the customers active at a time, not the size of the output.
 */
export function* generateJourneys(options: JourneyOptions): Generator<DemoMessage> {
  const { customers, seed, startMs, endMs } = checkedOptions(options);
  const pending = new PendingMessages();
  const queue = (customer: number, journey: Iterator<DemoMessage>) => {
    const next = journey.next();
    if (next.done) return;
    const at = Date.parse(next.value.timestamp);
    // The window's end cuts journeys short.
    if (at >= endMs) return void journey.return?.();
    pending.push({ at, customer, message: next.value, journey });
  };

  const arriving = arrivals(customers, seed, startMs, endMs);
  let arrival = arriving.next();
  for (;;) {
    // A customer joins before any message later than their arrival leaves the merge.
    while (!arrival.done && (pending.size === 0 || arrival.value.at <= pending.peek().at)) {
      const { customer, at } = arrival.value;
      queue(customer, journeyOf(new Shopper(seed, customer, at)));
      arrival = arriving.next();
    }
    const head = pending.pop();
    if (!head) return;
    yield head.message;
    queue(head.customer, head.journey);
  }
}

/**
 * How many messages `generateJourneys` yields for these options: exact up to `sample` customers,
 * else scaled up from every k-th customer's journey (arrivals are spread evenly, so the sample is too).
 */
export function estimateMessageCount(options: JourneyOptions, sample = 2_000): number {
  const { customers, seed, startMs, endMs } = checkedOptions(options);
  const stride = Math.max(1, Math.ceil(customers / Math.max(1, sample)));
  let sampled = 0;
  let counted = 0;
  for (const { customer, at } of arrivals(customers, seed, startMs, endMs)) {
    if ((customer - 1) % stride !== 0) continue;
    sampled += 1;
    for (const message of journeyOf(new Shopper(seed, customer, at))) {
      if (Date.parse(message.timestamp) >= endMs) break;
      counted += 1;
    }
  }
  return sampled === 0 ? 0 : Math.round((counted * customers) / sampled);
}

function checkedOptions({ customers, seed, start, days }: JourneyOptions) {
  if (!Number.isSafeInteger(customers) || customers < 0) throw new RangeError(`customers must be a whole number, not ${customers}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a whole number, not ${seed}`);
  if (!(Number.isFinite(days) && days > 0)) throw new RangeError(`days must be a positive number, not ${days}`);
  const startMs = Date.parse(start);
  if (Number.isNaN(startMs)) throw new RangeError(`start must be an ISO 8601 date-time, not ${JSON.stringify(start)}`);
  return { customers, seed, startMs, endMs: startMs + Math.round(days * DAY) };
}

// ─── Arrivals ────────────────────────────────────────────────────────────────────────────────

/** Customer numbers (from 1) with their arrival, in order, spread evenly but busier by day than by night (UTC). */
function* arrivals(customers: number, seed: number, startMs: number, endMs: number): Generator<{ customer: number; at: number }> {
  const random = createRandom(seedOf(seed, 'arrivals'));
  const from = activityMass(startMs);
  const to = activityMass(startMs + (endMs - startMs) * ARRIVAL_SHARE);
  for (let index = 0; index < customers; index++) {
    const mass = from + ((index + random.next()) / customers) * (to - from);
    yield { customer: index + 1, at: Math.max(startMs, Math.floor(timeOfMass(mass))) };
  }
}

/** Days since the epoch, weighted so the night (00:00–07:00) holds a tenth of each day's arrivals. */
function activityMass(time: number): number {
  const day = Math.floor(time / DAY);
  const hours = (time - day * DAY) / HOUR;
  return day + (hours < 7 ? (0.1 * hours) / 7 : 0.1 + (0.9 * (hours - 7)) / 17);
}

function timeOfMass(mass: number): number {
  const day = Math.floor(mass);
  const share = mass - day;
  const hours = share < 0.1 ? (share / 0.1) * 7 : 7 + ((share - 0.1) / 0.9) * 17;
  return day * DAY + hours * HOUR;
}

// ─── The customer ────────────────────────────────────────────────────────────────────────────

interface Plan {
  /** The furthest stage the journey is meant to reach (the window's end may cut it short). */
  depth: LifecycleStage;
  entry: 'ad' | 'promotion' | 'search' | 'referral';
  /** ENGAGEMENT customers: whether they register without buying. */
  signsUp: boolean;
  /** How the anonymous history is linked on sign-up: an identify carrying both ids, or an explicit alias. */
  linksBy: 'identify' | 'alias';
  /** CONVERSION customers: where they stop. */
  dropsAt: 'cart' | 'checkout' | 'payment' | 'subscription';
  abandonsCartFirst: boolean;
  orders: number;
  joinsLoyalty: boolean;
  subscribes: boolean;
  /** Leaves for a month or more (long enough to go dormant) before coming back. */
  goesQuiet: boolean;
  usesMobileApp: boolean;
  business: boolean;
  newsletter: boolean;
}

function planOf(random: Random): Plan {
  const depth = random.weighted<LifecycleStage>([
    ['DISCOVERY', 15],
    ['ENGAGEMENT', 30],
    ['CONVERSION', 17],
    ['POST_PURCHASE', 23],
    ['RETENTION', 15],
  ]);
  const orders = depth === 'RETENTION' ? random.weighted([[2, 60], [3, 25], [1, 15]]) : 1;
  return {
    depth,
    entry: random.weighted<Plan['entry']>([['ad', 45], ['promotion', 20], ['search', 20], ['referral', 15]]),
    signsUp: random.chance(0.4),
    linksBy: random.chance(0.2) ? 'alias' : 'identify',
    dropsAt: random.weighted<Plan['dropsAt']>([['cart', 45], ['checkout', 25], ['payment', 12], ['subscription', 18]]),
    abandonsCartFirst: random.chance(0.3),
    orders,
    joinsLoyalty: depth === 'RETENTION' && (orders === 1 || random.chance(0.45)),
    subscribes: depth === 'RETENTION' && random.chance(0.15),
    goesQuiet: random.chance(0.2),
    usesMobileApp: random.chance(0.2),
    business: random.chance(0.08),
    newsletter: random.chance(0.15),
  };
}

interface Person {
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
  username: string;
  address: { street: string; city: string; state: string; postalCode: string; country: string };
  currency: string;
  locale: string;
  timezone: string;
}

interface WebPage {
  name: string;
  category?: string;
  path: string;
  /** The raw query string, `?…`, or empty. */
  search: string;
  title: string;
  referrer: string;
  campaign?: Campaign;
}

type Origin = 'web' | 'mobile' | 'ads' | 'server' | 'support';

interface CartLine extends Product {
  quantity: number;
}

/** The ids a simulated customer is known by, named by seed and customer: unique however many customers and seeds. */
export function demoCustomerIds(seed: number, customer: number): { key: string; userId: string; anonymousId: string; mobileAnonymousId: string } {
  const key = `${seed}-${customer}`;
  return { key, userId: `user-${key}`, anonymousId: uuidOf('anonymous', key), mobileAnonymousId: uuidOf('mobile', key) };
}

/** One customer's identity, clock and builders of their messages. */
class Shopper {
  readonly random: Random;
  readonly plan: Plan;
  readonly person: Person;
  readonly anonymousId: string;
  readonly mobileAnonymousId: string;
  readonly userId: string;
  identified = false;
  clock: number;
  viewed: Product[] = [];
  cart: CartLine[] = [];
  cartId = '';
  lifetimeValue = 0;
  private readonly key: string;
  private readonly ip: string;
  private readonly userAgent: string;
  private readonly device: MobileDevice;
  private readonly advertisingId: string | undefined;
  private steps = 0;
  private readonly counters = { cart: 0, ticket: 0, return: 0 };
  private page: WebPage | undefined;
  private wentQuiet = false;

  constructor(
    readonly seed: number,
    readonly customer: number,
    arrival: number,
  ) {
    ({ key: this.key, anonymousId: this.anonymousId, mobileAnonymousId: this.mobileAnonymousId, userId: this.userId } = demoCustomerIds(seed, customer));
    this.random = createRandom(seedOf(seed, 'customer', customer));
    const random = this.random;
    this.plan = planOf(random);
    const firstName = random.pick(firstNames);
    const lastName = random.pick(lastNames);
    const home = random.pick(cities);
    this.person = {
      firstName,
      lastName,
      // Unique per customer and per seed, so runs with different seeds do not share people.
      email: `${firstName}.${lastName}.${this.key}@example.com`.toLowerCase(),
      phone: `${home.dialCode} ${random.int(200, 999)} ${random.int(100, 999)} ${random.int(1000, 9999)}`,
      username: `${firstName.toLowerCase()}${random.int(1, 999)}`,
      address: {
        street: `${random.int(1, 480)} ${random.pick(streets)}`,
        city: home.city,
        state: home.state,
        postalCode: home.postalCode,
        country: home.country,
      },
      currency: home.currency,
      locale: home.locale,
      timezone: home.timezone,
    };
    this.ip = `${random.pick(['192.0.2', '198.51.100', '203.0.113'])}.${random.int(1, 254)}`;
    this.userAgent = random.pick(userAgents);
    this.device = random.pick(mobileDevices);
    this.advertisingId = random.chance(0.5) ? uuidOf('advertising', this.key) : undefined;
    this.clock = arrival;
  }

  get name(): string {
    return `${this.person.firstName} ${this.person.lastName}`;
  }

  wait(least: number, most: number): void {
    this.clock += this.random.int(least, most);
  }

  /** The gap before the customer comes back: weeks, once, for those who go quiet. */
  comeBackLater(least: number, most: number): void {
    if (this.plan.goesQuiet && !this.wentQuiet) {
      this.wentQuiet = true;
      this.wait(31 * DAY, 50 * DAY);
    } else {
      this.wait(least, most);
    }
  }

  nextId(kind: keyof Shopper['counters']): string {
    this.counters[kind] += 1;
    return `${kind}-${this.key}-${this.counters[kind]}`;
  }

  track(event: string, properties: Json, origin: Origin = 'web'): DemoMessage {
    return this.message('track', origin, { event, properties });
  }

  pageView(page: WebPage): DemoMessage {
    this.page = page;
    const url = `${SHOP}${page.path}${page.search}`;
    return this.message('page', 'web', {
      name: page.name,
      properties: {
        ...(page.category && { category: page.category }),
        url,
        path: page.path,
        referrer: page.referrer,
        title: page.title,
        search: page.search,
      },
    });
  }

  screen(name: string, category: string): DemoMessage {
    return this.message('screen', 'mobile', { name, properties: { category } });
  }

  identify(traits: Json, origin: Origin = 'web'): DemoMessage {
    return this.message('identify', origin, { traits });
  }

  /** The server's alias call on sign-up: the user id takes over the browser's anonymous id. */
  alias(): DemoMessage {
    return this.message('alias', 'server', { previousId: this.anonymousId });
  }

  group(company: Company): DemoMessage {
    return this.message('group', 'web', {
      groupId: company.id,
      traits: { name: company.name, industry: company.industry, employees: company.employees, plan: company.plan, website: company.website },
    });
  }

  private message(type: SegmentCall, origin: Origin, fields: Partial<DemoMessage>): DemoMessage {
    this.steps += 1;
    const message: DemoMessage = {
      type,
      messageId: `demo-${this.key}-${this.steps}`,
      ...this.idsFor(origin),
      ...fields,
      channel: origin,
      context: this.contextFor(origin),
      timestamp: new Date(this.clock).toISOString(),
    };
    this.wait(3 * SECOND, 75 * SECOND);
    return message;
  }

  private idsFor(origin: Origin): Pick<DemoMessage, 'anonymousId' | 'userId'> {
    const userId = this.identified ? { userId: this.userId } : {};
    if (origin === 'mobile') return { anonymousId: this.mobileAnonymousId, ...userId };
    // Back-office systems know the customer by user id only.
    if ((origin === 'server' || origin === 'support') && this.identified) return userId;
    return { anonymousId: this.anonymousId, ...userId };
  }

  private contextFor(origin: Origin): Json {
    const { locale, timezone } = this.person;
    switch (origin) {
      case 'web':
      case 'ads': {
        const page = this.page;
        return {
          ip: this.ip,
          userAgent: this.userAgent,
          locale,
          timezone,
          library: LIBRARY,
          ...(page && {
            page: { path: page.path, referrer: page.referrer, search: page.search, title: page.title, url: `${SHOP}${page.path}${page.search}` },
          }),
          ...(page?.campaign && { campaign: { name: slug(page.campaign.name), source: page.campaign.source, medium: page.campaign.medium } }),
        };
      }
      case 'mobile': {
        const { os, ...device } = this.device;
        return {
          ip: this.ip,
          locale,
          timezone,
          library: LIBRARY,
          app: { name: 'Trailmap Outfitters', version: '3.4.1', build: '341' },
          device: { ...device, id: this.mobileAnonymousId, ...(this.advertisingId && { advertisingId: this.advertisingId }) },
          os,
          network: { wifi: this.random.chance(0.6) },
        };
      }
      default:
        return { library: LIBRARY };
    }
  }
}

// ─── The journey ─────────────────────────────────────────────────────────────────────────────

/** One customer's messages in time order: how far they get is their plan's `depth`. */
function* journeyOf(shopper: Shopper): Generator<DemoMessage> {
  const { plan, random } = shopper;
  yield* discover(shopper);
  if (plan.depth === 'DISCOVERY') return;

  yield* browse(shopper, landingFrom(shopper));
  const returns = Math.max(plan.goesQuiet ? 1 : 0, random.weighted([[0, 55], [1, 30], [2, 15]]));
  for (let visit = 0; visit < returns; visit++) {
    shopper.comeBackLater(2 * HOUR, 4 * DAY);
    yield* browse(shopper, returningVisit(shopper));
  }
  if (plan.newsletter) yield* subscribeToNewsletter(shopper);

  if (plan.depth === 'ENGAGEMENT') {
    if (plan.signsUp) yield* signUp(shopper);
    if (plan.signsUp && plan.usesMobileApp) yield* useMobileApp(shopper);
    if (plan.signsUp && plan.business) yield shopper.group(shopper.random.pick(companies));
    return;
  }

  if (plan.depth === 'CONVERSION') {
    yield* stopShort(shopper);
    return;
  }

  if (plan.abandonsCartFirst) {
    yield* fillCart(shopper);
    shopper.comeBackLater(3 * HOUR, 3 * DAY);
    yield* browse(shopper, returningVisit(shopper));
  }
  for (let order = 1; order <= plan.orders; order++) {
    if (order > 1) {
      shopper.comeBackLater(5 * DAY, 25 * DAY);
      yield* browse(shopper, returningVisit(shopper));
    }
    yield* buy(shopper);
    yield* afterOrder(shopper);
    if (order === 1 && plan.business) yield shopper.group(shopper.random.pick(companies));
    if (order === 1 && plan.usesMobileApp) yield* useMobileApp(shopper);
  }
  if (plan.depth === 'RETENTION') yield* stayLoyal(shopper);
}

/** Before the first visit: ads seen, a promotion, a search, or a friend's referral link. */
function* discover(shopper: Shopper): Generator<DemoMessage> {
  const { plan, random } = shopper;
  const staysAway = plan.depth === 'DISCOVERY';
  switch (plan.entry) {
    case 'ad': {
      const campaign = random.pick(campaigns);
      const ad = adProperties(random, campaign);
      for (let seen = random.int(1, 3); seen > 0; seen--) {
        yield shopper.track('Ad Impression', ad, 'ads');
        if (seen > 1) shopper.wait(HOUR, 2 * DAY);
      }
      if (!staysAway || random.chance(0.4)) yield shopper.track('Ad Clicked', ad, 'ads');
      break;
    }
    case 'promotion': {
      const promotion = random.pick(promotions);
      yield shopper.track('Promotion Viewed', promotion, 'ads');
      if (!staysAway || random.chance(0.3)) yield shopper.track('Promotion Clicked', promotion, 'ads');
      break;
    }
    case 'search':
      yield shopper.track('Products Searched', { query: random.pick(searchQueries) });
      break;
    case 'referral': {
      const referrer = random.int(1, Math.max(1, shopper.customer - 1));
      const code = `${random.pick(firstNames).toUpperCase()}${random.int(10, 99)}`;
      yield shopper.track('Referral Link Clicked', {
        referral_code: code,
        referrer_user_id: `user-${shopper.seed}-${referrer}`,
        campaign: 'refer-a-friend',
        url: `${SHOP}/r/${code}`,
      });
      break;
    }
  }
  if (staysAway && random.chance(0.3)) {
    shopper.wait(HOUR, 5 * DAY);
    yield shopper.track('Ad Impression', adProperties(random, random.pick(campaigns)), 'ads');
  }
}

/** One visit to the shop: a landing page, lists, products, maybe a search or a video. */
function* browse(shopper: Shopper, landing: WebPage): Generator<DemoMessage> {
  const { random } = shopper;
  yield shopper.pageView(landing);
  if (random.chance(0.2)) {
    const promotion = random.pick(promotions);
    yield shopper.track('Promotion Viewed', promotion);
    if (random.chance(0.3)) yield shopper.track('Promotion Clicked', promotion);
  }
  if (random.chance(0.25)) {
    const query = random.pick(searchQueries);
    yield shopper.track('Products Searched', { query });
    yield shopper.pageView(webPage('Search Results', `/search`, { search: `?q=${encodeURIComponent(query)}`, referrer: `${SHOP}${landing.path}` }));
  }
  if (random.chance(0.6)) {
    const category = random.pick(categories);
    const listed = products.filter((product) => product.category === category);
    yield shopper.pageView(webPage(category, `/c/${slug(category)}`, { category, referrer: `${SHOP}${landing.path}` }));
    yield shopper.track('Product List Viewed', {
      list_id: `list-${slug(category)}`,
      category,
      products: listed.map((product, position) => productLine(product, { position: position + 1 })),
    });
  }
  const viewed = random.sample(products, random.weighted([[1, 50], [2, 35], [3, 15]]));
  for (const product of viewed) {
    yield shopper.pageView(webPage(product.name, `/p/${product.product_id}`, { category: product.category }));
    yield shopper.track('Product Viewed', { ...productLine(product), currency: shopper.person.currency, value: product.price });
  }
  shopper.viewed = viewed;
  if (random.chance(0.12)) {
    const video = random.pick(videos);
    const watched = random.int(20, video.total_length);
    yield shopper.track('Video Watched', { ...video, position: watched, livestream: false });
  }
}

function* subscribeToNewsletter(shopper: Shopper): Generator<DemoMessage> {
  yield shopper.track('Newsletter Subscribed', { list_id: 'weekly-picks', list_name: 'Weekly Trail Picks', email: shopper.person.email });
}

/** Registration: the identify (or alias) that links the anonymous history to the new user id. */
function* signUp(shopper: Shopper): Generator<DemoMessage> {
  const { person, random } = shopper;
  yield shopper.pageView(webPage('Sign Up', '/account/sign-up'));
  shopper.identified = true;
  const traits = {
    email: person.email,
    name: shopper.name,
    first_name: person.firstName,
    last_name: person.lastName,
    phone: person.phone,
    username: person.username,
    address: person.address,
    created_at: new Date(shopper.clock).toISOString(),
  };
  if (shopper.plan.linksBy === 'alias') {
    yield shopper.alias();
    yield shopper.identify(traits, 'server');
  } else {
    yield shopper.identify(traits);
  }
  yield shopper.track('Signed Up', {
    type: random.pick(['email', 'google', 'apple']),
    email: person.email,
    first_name: person.firstName,
    last_name: person.lastName,
    phone: person.phone,
    username: person.username,
  });
}

/** CONVERSION customers: a cart left behind, a checkout not finished, or a subscription instead of an order. */
function* stopShort(shopper: Shopper): Generator<DemoMessage> {
  const { plan, random } = shopper;
  if (plan.dropsAt === 'subscription') {
    yield* signUp(shopper);
    yield* subscribe(shopper);
    return;
  }
  yield* fillCart(shopper);
  if (plan.dropsAt === 'cart') return;
  if (!shopper.identified && random.chance(0.5)) yield* signUp(shopper);
  yield* startCheckout(shopper);
  if (plan.dropsAt === 'checkout') return;
  if (!shopper.identified) yield* signUp(shopper);
  yield* enterPayment(shopper);
}

/** Products added (and sometimes one removed), and sometimes a look at the cart: an open cart. */
function* fillCart(shopper: Shopper): Generator<DemoMessage> {
  const { random, person } = shopper;
  shopper.cartId = shopper.nextId('cart');
  const chosen = random.sample(shopper.viewed.length > 0 ? shopper.viewed : products, random.int(1, 3));
  shopper.cart = chosen.map((product) => ({ ...product, quantity: random.weighted([[1, 80], [2, 15], [3, 5]]) }));
  for (const line of shopper.cart) {
    yield shopper.track('Product Added', { cart_id: shopper.cartId, ...productLine(line, { quantity: line.quantity }), currency: person.currency });
  }
  if (shopper.cart.length > 1 && random.chance(0.25)) {
    const removed = shopper.cart.pop()!;
    yield shopper.track('Product Removed', { cart_id: shopper.cartId, ...productLine(removed, { quantity: removed.quantity }), currency: person.currency });
  }
  if (random.chance(0.5)) yield* viewCart(shopper);
}

function* viewCart(shopper: Shopper): Generator<DemoMessage> {
  yield shopper.pageView(webPage('Cart', '/cart'));
  const { subtotal } = totalsOf(shopper);
  yield shopper.track('Cart Viewed', { cart_id: shopper.cartId, value: subtotal, currency: shopper.person.currency, products: cartProducts(shopper) });
}

function* startCheckout(shopper: Shopper): Generator<DemoMessage> {
  yield shopper.pageView(webPage('Checkout', '/checkout'));
  yield shopper.track('Checkout Started', orderProperties(shopper));
}

function* enterPayment(shopper: Shopper): Generator<DemoMessage> {
  const { random } = shopper;
  yield shopper.track('Payment Info Entered', {
    checkout_id: checkoutIdOf(shopper),
    order_id: orderIdOf(shopper),
    step: 2,
    shipping_method: random.pick(['standard', 'express', 'pickup']),
    payment_method: random.pick(['card', 'paypal', 'apple_pay', 'klarna']),
  });
}

/** A completed order, from a fresh cart through checkout (signing up on the way if still anonymous). */
function* buy(shopper: Shopper): Generator<DemoMessage> {
  yield* fillCart(shopper);
  yield* viewCart(shopper);
  if (!shopper.identified) yield* signUp(shopper);
  yield* startCheckout(shopper);
  yield* enterPayment(shopper);
  const order = orderProperties(shopper);
  yield shopper.track('Order Completed', { ...order, shipping_address: shopper.person.address, billing_address: shopper.person.address });
  shopper.lifetimeValue += order.revenue;
  yield shopper.pageView(webPage('Order Confirmation', '/checkout/complete', { search: `?order_id=${order.order_id}` }));
}

/** What follows an order over the next weeks, in time order: shipping, delivery, reviews, returns, tickets. */
function* afterOrder(shopper: Shopper): Generator<DemoMessage> {
  const { random, person } = shopper;
  const orderId = orderIdOf(shopper);
  const lines = shopper.cart;
  const ordered = shopper.clock;
  const later: { at: number; message: () => DemoMessage }[] = [];
  const at = (time: number, message: () => DemoMessage) => later.push({ at: Math.round(time), message });

  const shipped = ordered + random.between(6 * HOUR, 2 * DAY);
  const delivered = shipped + random.between(DAY, 5 * DAY);
  const carrier = random.pick(['UPS', 'DHL', 'FedEx', 'USPS']);
  const tracking = `1Z${random.int(100_000, 999_999)}${random.int(100_000, 999_999)}`;
  at(shipped, () =>
    shopper.track(
      'Order Shipped',
      {
        order_id: orderId,
        carrier,
        shipping_method: 'standard',
        tracking_number: tracking,
        tracking_url: `https://track.example.com/${carrier.toLowerCase()}/${tracking}`,
        shipping_address: person.address,
        products: cartProducts(shopper),
      },
      'server',
    ),
  );
  at(delivered, () => shopper.track('Order Delivered', { order_id: orderId, carrier, tracking_number: tracking }, 'server'));

  if (random.chance(0.35)) {
    const reviewed = random.pick(lines);
    const rating = random.weighted([[5, 45], [4, 30], [3, 12], [2, 7], [1, 6]]);
    at(delivered + random.between(DAY, 8 * DAY), () =>
      shopper.track('Product Reviewed', {
        product_id: reviewed.product_id,
        review_id: `review-${orderId}`,
        review_body: random.pick(reviewBodies[rating]!).replace('{name}', person.firstName),
        rating,
      }),
    );
  }
  if (random.chance(0.1)) {
    const returned = random.pick(lines);
    const value = roundCents(returned.price * returned.quantity);
    const requested = delivered + random.between(DAY, 10 * DAY);
    const returnId = shopper.nextId('return');
    at(requested, () =>
      shopper.track('Return Requested', {
        order_id: orderId,
        return_id: returnId,
        reason: random.pick(returnReasons),
        value,
        currency: person.currency,
        products: [productLine(returned, { quantity: returned.quantity })],
      }),
    );
    if (random.chance(0.85)) {
      at(requested + random.between(2 * DAY, 7 * DAY), () =>
        shopper.track(
          'Order Refunded',
          { order_id: orderId, total: value, revenue: value, currency: person.currency, products: [productLine(returned, { quantity: returned.quantity })] },
          'server',
        ),
      );
    }
  }
  if (random.chance(0.15)) {
    const ticketId = shopper.nextId('ticket');
    const topic = random.pick(ticketTopics);
    const opened = ordered + random.between(HOUR, delivered - ordered + 10 * DAY);
    at(opened, () =>
      shopper.track(
        'Support Ticket Created',
        {
          ticket_id: ticketId,
          order_id: orderId,
          subject: topic.subject,
          body: topic.body.replace('{order}', orderId).replace('{name}', person.firstName).replace('{phone}', person.phone),
          category: topic.category,
          priority: random.pick(['low', 'normal', 'normal', 'high']),
          channel: random.pick(['email', 'chat', 'phone']),
        },
        'support',
      ),
    );
    if (random.chance(0.85)) {
      at(opened + random.between(2 * HOUR, 3 * DAY), () =>
        shopper.track('Support Ticket Closed', { ticket_id: ticketId, rating: random.int(2, 5), comment: random.pick(ticketComments) }, 'support'),
      );
    }
  }
  if (shopper.plan.depth === 'RETENTION' && random.chance(0.35)) {
    at(delivered + random.between(DAY, 5 * DAY), () => {
      const nps = random.weighted([[10, 25], [9, 25], [8, 20], [7, 12], [6, 8], [3, 10]]);
      return shopper.track('Feedback Submitted', {
        feedback_id: `feedback-${orderId}`,
        survey_id: 'post-delivery-nps',
        rating: Math.max(1, Math.min(5, Math.round(nps / 2))),
        nps_score: nps,
        comment: random.pick(feedbackComments),
      });
    });
  }
  if (random.chance(0.4)) at(delivered + random.between(HOUR, 2 * DAY), () => shopper.pageView(webPage('Your Orders', '/account/orders')));

  for (const { at: time, message } of later.sort((a, b) => a.at - b.at)) {
    shopper.clock = Math.max(shopper.clock, time);
    yield message();
  }
}

/** RETENTION customers beyond repeat orders: the loyalty program and sometimes a subscription. */
function* stayLoyal(shopper: Shopper): Generator<DemoMessage> {
  const { plan, random } = shopper;
  if (plan.joinsLoyalty) {
    shopper.wait(HOUR, 3 * DAY);
    yield shopper.pageView(webPage('Trailmap Rewards', '/rewards'));
    yield shopper.track('Loyalty Program Joined', {
      program_id: 'rewards',
      program_name: 'Trailmap Rewards',
      tier: shopper.lifetimeValue > 400 ? 'silver' : 'bronze',
      points: Math.floor(shopper.lifetimeValue),
    });
  }
  if (plan.subscribes) {
    shopper.wait(DAY, 10 * DAY);
    yield* subscribe(shopper);
  }
  if (random.chance(0.3)) {
    shopper.comeBackLater(3 * DAY, 20 * DAY);
    yield* browse(shopper, returningVisit(shopper));
  }
}

function* subscribe(shopper: Shopper): Generator<DemoMessage> {
  const { random, person } = shopper;
  const plan = random.pick(subscriptionPlans);
  yield shopper.pageView(webPage('Trail Box', '/subscriptions/trail-box'));
  yield shopper.track('Subscription Started', {
    subscription_id: `sub-${shopper.seed}-${shopper.customer}`,
    plan_id: plan.id,
    plan_name: plan.name,
    billing_period: plan.period,
    trial: random.chance(0.4),
    value: plan.price,
    currency: person.currency,
  });
  yield shopper.identify({ plan: plan.name }, 'server');
}

/** A session in the mobile app, signed in: screens and a product or two. */
function* useMobileApp(shopper: Shopper): Generator<DemoMessage> {
  const { random, person } = shopper;
  shopper.wait(2 * HOUR, 6 * DAY);
  yield shopper.screen('Home', 'Browse');
  for (let screens = random.int(1, 3); screens > 0; screens--) {
    const product = random.pick(products);
    yield shopper.screen('Product Detail', product.category);
    if (random.chance(0.5)) yield shopper.track('Product Viewed', { ...productLine(product), currency: person.currency, value: product.price }, 'mobile');
  }
  if (random.chance(0.4)) yield shopper.screen('Orders', 'Account');
}

// ─── Pages and properties ───────────────────────────────────────────────────────────────────

function webPage(name: string, path: string, more: Partial<WebPage> = {}): WebPage {
  return { name, path, search: '', title: `${name} · Trailmap Outfitters`, referrer: '', ...more };
}

/** The first page of the first visit, tagged with the campaign the customer came from. */
function landingFrom(shopper: Shopper): WebPage {
  const { plan, random } = shopper;
  if (plan.entry === 'referral') return webPage('Home', '/', { search: '?utm_source=referral&utm_medium=friend&utm_campaign=refer_a_friend', referrer: 'https://mail.example.org/' });
  if (plan.entry === 'search') return webPage('Home', '/', { referrer: 'https://www.google.com/' });
  const campaign = random.pick(campaigns);
  return webPage('Home', '/', { search: utmQuery(campaign), campaign, referrer: `https://${campaign.source}.example.net/` });
}

/** A later visit: straight in, from a search engine, a campaign, or — for subscribers — the newsletter. */
function returningVisit(shopper: Shopper): WebPage {
  const { random, person } = shopper;
  const newsletterReader = shopper.plan.newsletter || shopper.identified;
  const source = random.weighted<'direct' | 'organic' | 'campaign' | 'newsletter'>([
    ['direct', 35],
    ['organic', 25],
    ['campaign', 25],
    ['newsletter', newsletterReader ? 30 : 0],
  ]);
  switch (source) {
    case 'organic':
      return webPage('Home', '/', { referrer: 'https://www.google.com/' });
    case 'campaign': {
      const campaign = random.pick(campaigns);
      return webPage('Home', '/', { search: utmQuery(campaign), campaign });
    }
    case 'newsletter': {
      // Email links often carry the address: personal data in the page URL.
      const search = `?utm_source=newsletter&utm_medium=email&utm_campaign=weekly_picks&email=${encodeURIComponent(person.email)}`;
      return webPage('Home', '/', { search, campaign: newsletterCampaign, referrer: 'https://mail.example.org/' });
    }
    default:
      return webPage('Home', '/');
  }
}

function utmQuery(campaign: Campaign): string {
  const term = campaign.term ? `&utm_term=${encodeURIComponent(campaign.term)}` : '';
  return `?utm_source=${campaign.source}&utm_medium=${campaign.medium}&utm_campaign=${slug(campaign.name)}${term}`;
}

function adProperties(random: Random, campaign: Campaign): Json {
  return {
    ad_id: `ad-${campaign.id}-${random.int(1, 4)}`,
    campaign_id: campaign.id,
    campaign_name: campaign.name,
    creative: random.pick(['hero-image', 'carousel', 'video-15s', 'text']),
    placement: random.pick(['feed', 'search-top', 'sidebar', 'stories']),
    source: campaign.source,
    medium: campaign.medium,
    ...(campaign.term && { term: campaign.term }),
    content: 'v2',
    url: `${SHOP}/${utmQuery(campaign)}`,
  };
}

function productLine(product: Product, more: { quantity?: number; position?: number } = {}): Json {
  return {
    product_id: product.product_id,
    sku: product.sku,
    category: product.category,
    name: product.name,
    brand: product.brand,
    price: product.price,
    ...more,
    url: `${SHOP}/p/${product.product_id}`,
    image_url: `https://cdn.example.com/products/${product.sku}.jpg`,
  };
}

function cartProducts(shopper: Shopper): Json[] {
  return shopper.cart.map((line, index) => productLine(line, { quantity: line.quantity, position: index + 1 }));
}

function totalsOf(shopper: Shopper) {
  const subtotal = roundCents(shopper.cart.reduce((sum, line) => sum + line.price * line.quantity, 0));
  const discount = shopper.cart.length > 1 ? roundCents(subtotal * 0.1) : 0;
  const shipping = subtotal >= 75 ? 0 : 6.95;
  const tax = roundCents((subtotal - discount) * 0.08);
  return { subtotal, discount, shipping, tax, revenue: roundCents(subtotal - discount), total: roundCents(subtotal - discount + shipping + tax) };
}

function orderIdOf(shopper: Shopper): string {
  return `order-${shopper.cartId.slice('cart-'.length)}`;
}

function checkoutIdOf(shopper: Shopper): string {
  return `checkout-${shopper.cartId.slice('cart-'.length)}`;
}

function orderProperties(shopper: Shopper) {
  const totals = totalsOf(shopper);
  return {
    checkout_id: checkoutIdOf(shopper),
    order_id: orderIdOf(shopper),
    affiliation: 'Trailmap Outfitters',
    ...totals,
    ...(totals.discount > 0 && { coupon: 'BUNDLE10' }),
    currency: shopper.person.currency,
    products: cartProducts(shopper),
  };
}

function roundCents(amount: number): number {
  return Math.round(amount * 100) / 100;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

// ─── The shop's world ───────────────────────────────────────────────────────────────────────

interface Product {
  product_id: string;
  sku: string;
  name: string;
  category: string;
  brand: string;
  price: number;
}

interface Campaign {
  id: string;
  name: string;
  source: string;
  medium: string;
  term?: string;
}

interface Company {
  id: string;
  name: string;
  industry: string;
  employees: number;
  plan: string;
  website: string;
}

interface MobileDevice {
  type: string;
  manufacturer: string;
  model: string;
  os: { name: string; version: string };
}

const products: readonly Product[] = [
  ['p-1001', 'TM-TENT-2P', 'Ridgeline 2-Person Tent', 'Tents', 'Trailmap', 249],
  ['p-1002', 'TM-TENT-4P', 'Basecamp 4-Person Tent', 'Tents', 'Trailmap', 429],
  ['p-1003', 'NP-TARP-UL', 'Ultralight Tarp Shelter', 'Tents', 'Northpeak', 119],
  ['p-2001', 'TM-PACK-38', 'Switchback 38L Backpack', 'Backpacks', 'Trailmap', 159],
  ['p-2002', 'NP-PACK-65', 'Expedition 65L Backpack', 'Backpacks', 'Northpeak', 289],
  ['p-2003', 'TM-DAY-20', 'Daytripper 20L Pack', 'Backpacks', 'Trailmap', 79.5],
  ['p-3001', 'SC-BOOT-MID', 'Scree Mid Hiking Boot', 'Footwear', 'Scree', 189],
  ['p-3002', 'SC-TRAIL-RN', 'Scree Trail Runner', 'Footwear', 'Scree', 139],
  ['p-3003', 'TM-SOCK-3P', 'Merino Hiking Socks (3 pairs)', 'Footwear', 'Trailmap', 36],
  ['p-4001', 'NP-SHELL-M', 'Stormline Rain Shell', 'Apparel', 'Northpeak', 219],
  ['p-4002', 'TM-FLEECE', 'Ridge Fleece Jacket', 'Apparel', 'Trailmap', 99],
  ['p-4003', 'TM-BASE-LS', 'Merino Base Layer', 'Apparel', 'Trailmap', 74.95],
  ['p-5001', 'EM-STOVE-1', 'Ember Canister Stove', 'Camp Kitchen', 'Ember', 64.99],
  ['p-5002', 'EM-POT-SET', 'Titanium Cook Set', 'Camp Kitchen', 'Ember', 89],
  ['p-5003', 'EM-FILTER', 'Squeeze Water Filter', 'Camp Kitchen', 'Ember', 42],
  ['p-6001', 'NP-BAG-M5', 'Down Sleeping Bag -5°C', 'Sleep', 'Northpeak', 329],
  ['p-6002', 'TM-PAD-INS', 'Insulated Sleeping Pad', 'Sleep', 'Trailmap', 129],
  ['p-6003', 'TM-PILLOW', 'Inflatable Camp Pillow', 'Sleep', 'Trailmap', 24.5],
].map(([product_id, sku, name, category, brand, price]) => ({ product_id, sku, name, category, brand, price }) as Product);

const categories = [...new Set(products.map((product) => product.category))];

const campaigns: readonly Campaign[] = [
  { id: 'cmp-spring', name: 'Spring Trails Sale', source: 'google', medium: 'cpc', term: 'hiking gear' },
  { id: 'cmp-tents', name: 'Tents for Two', source: 'facebook', medium: 'paid_social' },
  { id: 'cmp-boots', name: 'Boot Season', source: 'instagram', medium: 'paid_social' },
  { id: 'cmp-return', name: 'Back to the Trail', source: 'criteo', medium: 'display' },
  { id: 'cmp-summit', name: 'Summit Stories', source: 'youtube', medium: 'video' },
];
const newsletterCampaign: Campaign = { id: 'cmp-weekly', name: 'Weekly Picks', source: 'newsletter', medium: 'email' };

const promotions: readonly Json[] = [
  { promotion_id: 'promo-free-shipping', creative: 'banner-top', name: 'Free shipping over $75', position: 'home_banner' },
  { promotion_id: 'promo-bundle', creative: 'tile', name: 'Bundle and save 10%', position: 'home_tile_2' },
  { promotion_id: 'promo-rewards', creative: 'popup', name: 'Join Trailmap Rewards', position: 'popup' },
];

const videos = [
  { asset_id: 'vid-pitch-tent', title: 'Pitching the Ridgeline in 3 minutes', genre: 'how-to', total_length: 184 },
  { asset_id: 'vid-pack-fit', title: 'Fitting your backpack', genre: 'how-to', total_length: 242 },
  { asset_id: 'vid-summit', title: 'Summit Stories: the long way up', genre: 'documentary', total_length: 1260 },
];

const subscriptionPlans = [
  { id: 'trail-box-monthly', name: 'Trail Box Monthly', period: 'monthly', price: 29 },
  { id: 'trail-box-annual', name: 'Trail Box Annual', period: 'annual', price: 290 },
];

const companies: readonly Company[] = [
  ['org-summit-guides', 'Summit Guides Co.', 'Tourism', 42, 'team'],
  ['org-northwoods-school', 'Northwoods Outdoor School', 'Education', 120, 'business'],
  ['org-riverbend-camps', 'Riverbend Camps', 'Hospitality', 18, 'team'],
  ['org-alpine-rescue', 'Alpine Rescue Volunteers', 'Non-profit', 65, 'business'],
].map(([id, name, industry, employees, plan]) => ({ id, name, industry, employees, plan, website: `https://${String(id).slice(4)}.example.org` }) as Company);

const firstNames = ['Ada', 'Grace', 'Alan', 'Katherine', 'Linus', 'Margaret', 'Tim', 'Barbara', 'Dennis', 'Frances', 'Ken', 'Radia', 'Edsger', 'Hedy', 'John', 'Sophie', 'Mary', 'Guido', 'Lynn', 'Donald', 'Karen', 'Niklaus', 'Annie', 'Vint', 'Joan', 'Bjarne', 'Evelyn', 'James', 'Shafi', 'Leslie'];
const lastNames = ['Lovelace', 'Hopper', 'Turing', 'Johnson', 'Torvalds', 'Hamilton', 'Berners-Lee', 'Liskov', 'Ritchie', 'Allen', 'Thompson', 'Perlman', 'Dijkstra', 'Lamarr', 'Backus', 'Wilson', 'Keller', 'Rossum', 'Conway', 'Knuth', 'Jones', 'Wirth', 'Easley', 'Cerf', 'Clarke', 'Stroustrup', 'Boyd', 'Gosling', 'Goldwasser', 'Lamport'];
const streets = ['Maple Street', 'Alder Way', 'Summit Road', 'River Lane', 'Cedar Avenue', 'High Street', 'Juniper Court', 'Granite Drive'];

const cities = [
  { city: 'Portland', state: 'OR', postalCode: '97205', country: 'US', currency: 'USD', locale: 'en-US', timezone: 'America/Los_Angeles', dialCode: '+1' },
  { city: 'Denver', state: 'CO', postalCode: '80202', country: 'US', currency: 'USD', locale: 'en-US', timezone: 'America/Denver', dialCode: '+1' },
  { city: 'Boston', state: 'MA', postalCode: '02108', country: 'US', currency: 'USD', locale: 'en-US', timezone: 'America/New_York', dialCode: '+1' },
  { city: 'Seattle', state: 'WA', postalCode: '98101', country: 'US', currency: 'USD', locale: 'en-US', timezone: 'America/Los_Angeles', dialCode: '+1' },
  { city: 'Vancouver', state: 'BC', postalCode: 'V6B 1A1', country: 'CA', currency: 'CAD', locale: 'en-CA', timezone: 'America/Vancouver', dialCode: '+1' },
  { city: 'London', state: 'England', postalCode: 'EC1A 1BB', country: 'GB', currency: 'GBP', locale: 'en-GB', timezone: 'Europe/London', dialCode: '+44' },
  { city: 'Munich', state: 'Bavaria', postalCode: '80331', country: 'DE', currency: 'EUR', locale: 'de-DE', timezone: 'Europe/Berlin', dialCode: '+49' },
  { city: 'Lyon', state: 'Auvergne-Rhône-Alpes', postalCode: '69002', country: 'FR', currency: 'EUR', locale: 'fr-FR', timezone: 'Europe/Paris', dialCode: '+33' },
  { city: 'Melbourne', state: 'VIC', postalCode: '3000', country: 'AU', currency: 'AUD', locale: 'en-AU', timezone: 'Australia/Melbourne', dialCode: '+61' },
];

const userAgents = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
];

const mobileDevices: readonly MobileDevice[] = [
  { type: 'ios', manufacturer: 'Apple', model: 'iPhone15,2', os: { name: 'iOS', version: '17.5' } },
  { type: 'ios', manufacturer: 'Apple', model: 'iPhone14,5', os: { name: 'iOS', version: '16.7' } },
  { type: 'android', manufacturer: 'Google', model: 'Pixel 8', os: { name: 'Android', version: '14' } },
];

const searchQueries = ['2 person tent', 'waterproof jacket', 'hiking boots size 42', 'camp stove', 'sleeping bag -5', 'trail running shoes', 'merino socks', 'backpack 40l', 'water filter'];

const reviewBodies: Record<number, string[]> = {
  5: ['Absolutely love it. Took it up Mount Hood last weekend and it was perfect.', 'Best purchase this year — light, sturdy, and it packs down small.', 'My partner and I ({name}) have used it on three trips already. Flawless.'],
  4: ['Great quality, runs slightly small.', 'Very good, but the instructions could be clearer.', 'Solid gear for the price; delivery was quick.'],
  3: ['Does the job. Nothing special.', 'Okay, but heavier than the description suggests.'],
  2: ['Zip broke after two uses. Disappointed.', 'Colour is nothing like the photos.'],
  1: ['Arrived damaged and support took a week to answer. Never again.', 'Leaked on the first rainy night.'],
};

const returnReasons = ['Too small', 'Arrived damaged', 'Not as described', 'Changed my mind', 'Ordered the wrong size'];

const ticketTopics = [
  { category: 'delivery', subject: 'Where is my order?', body: 'Hi, this is {name}. My order {order} has not arrived yet. Please call me on {phone}.' },
  { category: 'damage', subject: 'Item arrived damaged', body: 'The box for {order} was crushed and the pole is bent. Photos attached.' },
  { category: 'address', subject: 'Change delivery address', body: 'Can you send {order} to my office instead? Reach me at {phone}. Thanks, {name}' },
  { category: 'billing', subject: 'Invoice request', body: 'I need a VAT invoice for {order} for my company.' },
  { category: 'warranty', subject: 'Warranty question', body: 'How long is the warranty on the items in {order}?' },
];

const ticketComments = ['Quick and friendly, thanks!', 'Solved, but it took a while.', 'Helpful agent.', 'Had to explain it twice.'];
const feedbackComments = ['Love the shop, fast shipping.', 'Prices are a bit high but the quality is worth it.', 'Please stock more sizes.', 'Checkout was smooth.', 'Delivery took longer than promised.'];

// ─── The merge ──────────────────────────────────────────────────────────────────────────────

interface PendingMessage {
  at: number;
  customer: number;
  message: DemoMessage;
  journey: Iterator<DemoMessage>;
}

/** A binary min-heap of each active customer's next message, by time then customer number. */
class PendingMessages {
  private readonly heap: PendingMessage[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): PendingMessage {
    return this.heap[0]!;
  }

  push(item: PendingMessage): void {
    const heap = this.heap;
    heap.push(item);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!earlier(item, heap[parent]!)) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = item;
  }

  pop(): PendingMessage | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && earlier(heap[right]!, heap[left]!) ? right : left;
      if (!earlier(heap[child]!, last)) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
    return top;
  }
}

function earlier(a: PendingMessage, b: PendingMessage): boolean {
  return a.at < b.at || (a.at === b.at && a.customer < b.customer);
}
