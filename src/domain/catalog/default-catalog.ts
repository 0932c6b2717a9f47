import type { EventTypeDefinition } from './event-catalog.js';
import type { JsonSchema } from './json-schema.js';

// Segment e-commerce v2 names where they exist; additional properties are allowed throughout.

function objectWith(properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema {
  return required.length > 0 ? { type: 'object', properties, required } : { type: 'object', properties };
}

const text = { type: 'string' };
// Many clients send numeric product and order ids.
const id = { type: ['string', 'number'] };
const amount = { type: 'number' };
const wholeNumber = { type: 'integer', minimum: 0 };
const currency = { type: 'string', format: 'currency-code' };
const rating = { type: 'number', minimum: 1, maximum: 5 };
const timestamp = { type: 'string', format: 'date-time' };
const email = { type: 'string', format: 'email' };
const address = objectWith({ street: text, city: text, state: text, postalCode: text, country: text });

const productFields = {
  product_id: id,
  sku: text,
  category: text,
  name: text,
  brand: text,
  variant: text,
  price: amount,
  quantity: wholeNumber,
  coupon: text,
  position: wholeNumber,
  url: text,
  image_url: text,
};
const products = { type: 'array', items: objectWith(productFields) };

const order = {
  checkout_id: id,
  order_id: id,
  affiliation: text,
  subtotal: amount,
  total: amount,
  revenue: amount,
  shipping: amount,
  tax: amount,
  discount: amount,
  coupon: text,
  currency,
  products,
};

const ad = {
  ad_id: id,
  campaign_id: id,
  campaign_name: text,
  creative: text,
  placement: text,
  source: text,
  medium: text,
  term: text,
  content: text,
  url: text,
};

const promotion = { promotion_id: id, creative: text, name: text, position: text };

const reservedTraits = objectWith({
  email,
  name: text,
  first_name: text,
  firstName: text,
  last_name: text,
  lastName: text,
  phone: text,
  address,
  birthday: text,
  age: { type: 'number', minimum: 0 },
  gender: text,
  avatar: text,
  username: text,
  description: text,
  website: text,
  title: text,
  plan: text,
  company: objectWith({ id, name: text, industry: text, employee_count: wholeNumber, plan: text }),
});

const personalTraits = [
  'address',
  'age',
  'avatar',
  'birthday',
  'description',
  'email',
  'firstName',
  'first_name',
  'gender',
  'lastName',
  'last_name',
  'name',
  'phone',
  'username',
  'website',
].map((trait) => `traits.${trait}`);

export const defaultEventTypes: readonly EventTypeDefinition[] = [
  { name: 'Ad Impression', category: 'DISCOVERY', version: 1, schema: objectWith(ad), piiFields: [] },
  { name: 'Ad Clicked', category: 'DISCOVERY', version: 1, schema: objectWith(ad), piiFields: [] },
  {
    name: 'Products Searched',
    category: 'DISCOVERY',
    version: 1,
    schema: objectWith({ query: text }),
    piiFields: ['properties.query'],
  },
  { name: 'Promotion Viewed', category: 'DISCOVERY', version: 1, schema: objectWith(promotion), piiFields: [] },
  { name: 'Promotion Clicked', category: 'DISCOVERY', version: 1, schema: objectWith(promotion), piiFields: [] },
  {
    name: 'Referral Link Clicked',
    category: 'DISCOVERY',
    version: 1,
    schema: objectWith({ referral_code: text, referrer_user_id: id, campaign: text, url: text }),
    // A referral code is usually made from the referring customer's name or id, and the link carries it.
    piiFields: ['properties.referral_code', 'properties.referrer_user_id', 'properties.url'],
  },

  {
    name: 'Page Viewed',
    category: 'ENGAGEMENT',
    version: 1,
    schema: objectWith({
      name: text,
      category: text,
      url: text,
      path: text,
      referrer: text,
      title: text,
      search: text,
      keywords: { type: 'array', items: text },
    }),
    // `search` is the page's raw query string.
    piiFields: ['properties.search'],
  },
  {
    name: 'Screen Viewed',
    category: 'ENGAGEMENT',
    version: 1,
    schema: objectWith({ name: text, category: text }),
    piiFields: [],
  },
  {
    name: 'Product Viewed',
    category: 'ENGAGEMENT',
    version: 1,
    schema: objectWith({ ...productFields, currency, value: amount }),
    piiFields: [],
  },
  {
    name: 'Product List Viewed',
    category: 'ENGAGEMENT',
    version: 1,
    schema: objectWith({ list_id: id, category: text, products }),
    piiFields: [],
  },
  {
    name: 'Video Watched',
    category: 'ENGAGEMENT',
    version: 1,
    schema: objectWith({
      asset_id: id,
      title: text,
      genre: text,
      position: { type: 'number', minimum: 0 },
      total_length: { type: 'number', minimum: 0 },
      livestream: { type: 'boolean' },
    }),
    piiFields: [],
  },
  {
    name: 'Newsletter Subscribed',
    category: 'ENGAGEMENT',
    version: 1,
    schema: objectWith({ list_id: id, list_name: text, email }),
    piiFields: ['properties.email'],
  },
  {
    name: 'Signed Up',
    category: 'ENGAGEMENT',
    version: 1,
    schema: objectWith({ type: text, email, first_name: text, last_name: text, phone: text, username: text }),
    traitsSchema: reservedTraits,
    piiFields: [
      'properties.email',
      'properties.first_name',
      'properties.last_name',
      'properties.phone',
      'properties.username',
      ...personalTraits,
    ],
  },

  {
    name: 'Product Added',
    category: 'CONVERSION',
    version: 1,
    schema: objectWith({ cart_id: id, ...productFields, currency }),
    piiFields: [],
  },
  {
    name: 'Product Removed',
    category: 'CONVERSION',
    version: 1,
    schema: objectWith({ cart_id: id, ...productFields, currency }),
    piiFields: [],
  },
  {
    name: 'Cart Viewed',
    category: 'CONVERSION',
    version: 1,
    schema: objectWith({ cart_id: id, value: amount, currency, products }),
    piiFields: [],
  },
  { name: 'Checkout Started', category: 'CONVERSION', version: 1, schema: objectWith(order), piiFields: [] },
  {
    name: 'Payment Info Entered',
    category: 'CONVERSION',
    version: 1,
    schema: objectWith({
      checkout_id: id,
      order_id: id,
      step: { type: 'integer', minimum: 1 },
      shipping_method: text,
      payment_method: text,
    }),
    piiFields: [],
  },
  {
    name: 'Order Completed',
    category: 'CONVERSION',
    version: 1,
    schema: objectWith({ ...order, shipping_address: address, billing_address: address }, ['order_id']),
    piiFields: ['properties.shipping_address', 'properties.billing_address'],
  },
  {
    name: 'Subscription Started',
    category: 'CONVERSION',
    version: 1,
    schema: objectWith({
      subscription_id: id,
      plan_id: id,
      plan_name: text,
      billing_period: text,
      trial: { type: 'boolean' },
      value: amount,
      currency,
    }),
    piiFields: [],
  },

  {
    name: 'Order Shipped',
    category: 'POST_PURCHASE',
    version: 1,
    schema: objectWith(
      {
        order_id: id,
        carrier: text,
        shipping_method: text,
        tracking_number: text,
        tracking_url: text,
        shipping_address: address,
        products,
      },
      ['order_id'],
    ),
    // A tracking number looks up the delivery address at the carrier.
    piiFields: ['properties.tracking_number', 'properties.tracking_url', 'properties.shipping_address'],
  },
  {
    name: 'Order Delivered',
    category: 'POST_PURCHASE',
    version: 1,
    schema: objectWith({ order_id: id, carrier: text, tracking_number: text }, ['order_id']),
    piiFields: ['properties.tracking_number'],
  },
  {
    name: 'Product Reviewed',
    category: 'POST_PURCHASE',
    version: 1,
    schema: objectWith({ product_id: id, review_id: id, review_body: text, rating }, ['product_id']),
    piiFields: ['properties.review_body'],
  },
  {
    name: 'Return Requested',
    category: 'POST_PURCHASE',
    version: 1,
    schema: objectWith({ order_id: id, return_id: id, reason: text, value: amount, currency, products }, ['order_id']),
    piiFields: ['properties.reason'],
  },
  {
    name: 'Order Refunded',
    category: 'POST_PURCHASE',
    version: 1,
    schema: objectWith({ order_id: id, total: amount, revenue: amount, currency, products }, ['order_id']),
    piiFields: [],
  },
  {
    name: 'Support Ticket Created',
    category: 'POST_PURCHASE',
    version: 1,
    schema: objectWith(
      { ticket_id: id, order_id: id, subject: text, body: text, category: text, priority: text, channel: text },
      ['ticket_id'],
    ),
    piiFields: ['properties.subject', 'properties.body'],
  },
  {
    name: 'Support Ticket Closed',
    category: 'POST_PURCHASE',
    version: 1,
    schema: objectWith({ ticket_id: id, rating, comment: text }, ['ticket_id']),
    piiFields: ['properties.comment'],
  },

  {
    name: 'Loyalty Program Joined',
    category: 'RETENTION',
    version: 1,
    schema: objectWith({ program_id: id, program_name: text, tier: text, points: wholeNumber }),
    piiFields: [],
  },
  {
    name: 'Feedback Submitted',
    category: 'RETENTION',
    version: 1,
    schema: objectWith({
      feedback_id: id,
      survey_id: id,
      rating,
      nps_score: { type: 'integer', minimum: 0, maximum: 10 },
      comment: text,
    }),
    piiFields: ['properties.comment'],
  },

  {
    name: 'Identified',
    category: 'IDENTITY',
    version: 1,
    schema: objectWith({}),
    traitsSchema: reservedTraits,
    piiFields: personalTraits,
  },
  {
    name: 'Identity Linked',
    category: 'IDENTITY',
    version: 1,
    schema: objectWith({ previous_id: text }, ['previous_id']),
    piiFields: [],
  },
  {
    name: 'Group Identified',
    category: 'IDENTITY',
    version: 1,
    schema: objectWith({ group_id: id }, ['group_id']),
    traitsSchema: objectWith({
      name: text,
      industry: text,
      employees: wholeNumber,
      plan: text,
      website: text,
      email,
      phone: text,
      address,
    }),
    piiFields: ['traits.email', 'traits.phone', 'traits.address'],
  },

  {
    name: 'Customer Went Dormant',
    category: 'SYSTEM',
    version: 1,
    schema: objectWith({ last_seen_at: timestamp, inactive_days: wholeNumber }),
    piiFields: [],
  },
  {
    name: 'Cart Abandoned',
    category: 'SYSTEM',
    version: 1,
    schema: objectWith({ cart_id: id, value: amount, currency, products, last_activity_at: timestamp }),
    piiFields: [],
  },
  {
    name: 'Customer Forgotten',
    category: 'SYSTEM',
    version: 1,
    schema: objectWith({ request_id: id, requested_at: timestamp }),
    piiFields: [],
  },
];
