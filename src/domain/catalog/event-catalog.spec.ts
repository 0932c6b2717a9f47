import { defaultEventTypes } from './default-catalog.js';
import { createCatalog, eventCategories, type EventCategory } from './event-catalog.js';

const catalog = createCatalog(defaultEventTypes);

const journey: Record<EventCategory, string[]> = {
  DISCOVERY: [
    'Ad Impression',
    'Ad Clicked',
    'Products Searched',
    'Promotion Viewed',
    'Promotion Clicked',
    'Referral Link Clicked',
  ],
  ENGAGEMENT: [
    'Page Viewed',
    'Screen Viewed',
    'Product Viewed',
    'Product List Viewed',
    'Video Watched',
    'Newsletter Subscribed',
    'Signed Up',
  ],
  CONVERSION: [
    'Product Added',
    'Product Removed',
    'Cart Viewed',
    'Checkout Started',
    'Payment Info Entered',
    'Order Completed',
    'Subscription Started',
  ],
  POST_PURCHASE: [
    'Order Shipped',
    'Order Delivered',
    'Product Reviewed',
    'Return Requested',
    'Order Refunded',
    'Support Ticket Created',
    'Support Ticket Closed',
  ],
  RETENTION: ['Loyalty Program Joined', 'Feedback Submitted'],
  IDENTITY: ['Identified', 'Identity Linked', 'Group Identified'],
  SYSTEM: ['Customer Went Dormant', 'Cart Abandoned', 'Customer Forgotten'],
};

describe('the default event catalog', () => {
  it('has event types in every category of the journey', () => {
    const categories = new Set(catalog.list().map((eventType) => eventType.category));
    expect([...categories].sort()).toEqual([...eventCategories].sort());
  });

  it.each(Object.entries(journey).flatMap(([category, names]) => names.map((name) => [name, category])))(
    'describes %s in %s',
    (name, category) => {
      expect(catalog.describes(name)).toBe(true);
      expect(catalog.categoryOf(name)).toBe(category);
    },
  );

  it('gives every type a version, an object schema and the catalog-wide personal data paths', () => {
    for (const eventType of catalog.list()) {
      expect(Number.isInteger(eventType.version)).toBe(true);
      expect(eventType.schema).toMatchObject({ type: 'object' });
      expect(eventType.piiFields).toContain('context.ip');
    }
  });

  it('lists what the eventTypes query serves', () => {
    expect(catalog.list().find((eventType) => eventType.name === 'Order Completed')).toEqual({
      name: 'Order Completed',
      category: 'CONVERSION',
      version: 1,
      schema: expect.objectContaining({ required: ['order_id'] }),
      piiFields: expect.arrayContaining(['properties.shipping_address', 'context.ip']),
    });
  });

  it('marks free text and Segment reserved traits as personal data, and the linked anonymous id as not', () => {
    expect(catalog.get('Products Searched')?.piiFields).toContain('properties.query');
    expect(catalog.get('Product Reviewed')?.piiFields).toContain('properties.review_body');
    expect(catalog.get('Support Ticket Created')?.piiFields).toEqual(
      expect.arrayContaining(['properties.subject', 'properties.body']),
    );
    expect(catalog.get('Support Ticket Closed')?.piiFields).toContain('properties.comment');
    expect(catalog.get('Feedback Submitted')?.piiFields).toContain('properties.comment');
    expect(catalog.get('Identified')?.piiFields).toEqual(
      expect.arrayContaining(['traits.email', 'traits.name', 'traits.first_name', 'traits.firstName', 'traits.phone']),
    );
    expect(catalog.get('Signed Up')?.piiFields).toEqual(expect.arrayContaining(['traits.email', 'properties.email']));
    expect(catalog.get('Identity Linked')?.piiFields).not.toContain('properties.previous_id');
  });
});

describe('validating an event against the catalog', () => {
  it('accepts an Order Completed as a Segment client sends it, extra properties included', () => {
    const problems = catalog.validate({
      type: 'Order Completed',
      properties: {
        order_id: '50314b8e9bcf000000000000',
        total: 27.5,
        revenue: 25,
        currency: 'USD',
        products: [{ product_id: 507, sku: '45790-32', name: 'Monopoly', price: 19, quantity: 1, gift_wrap: true }],
        loyalty_points_used: 120,
      },
      context: { ip: '203.0.113.9', page: { url: 'https://shop.example/checkout' } },
    });
    expect(problems).toEqual([]);
  });

  it('rejects an Order Completed without order_id, naming the field and the rule', () => {
    expect(catalog.validate({ type: 'Order Completed', properties: { revenue: 25 } })).toEqual([
      { field: 'properties.order_id', rule: 'required', message: 'properties.order_id is required' },
    ]);
  });

  it('rejects an Order Completed without any properties, as one without order_id', () => {
    expect(catalog.validate({ type: 'Order Completed' })).toEqual([
      { field: 'properties.order_id', rule: 'required', message: 'properties.order_id is required' },
    ]);
  });

  it('rejects a revenue that is not a number', () => {
    expect(catalog.validate({ type: 'Order Completed', properties: { order_id: 'o-1', revenue: '25.00' } })).toEqual([
      { field: 'properties.revenue', rule: 'type', message: 'properties.revenue must be a number' },
    ]);
  });

  it('rejects a currency that is not a 3-letter code', () => {
    expect(catalog.validate({ type: 'Cart Viewed', properties: { currency: 'dollars' } })).toEqual([
      {
        field: 'properties.currency',
        rule: 'format',
        message: 'properties.currency must be a 3-letter currency code (ISO 4217)',
      },
    ]);
  });

  it('rejects a rating outside 1 to 5', () => {
    expect(catalog.validate({ type: 'Product Reviewed', properties: { product_id: 'p-1', rating: 0 } })).toEqual([
      { field: 'properties.rating', rule: 'minimum', message: 'properties.rating must be at least 1' },
    ]);
    expect(catalog.validate({ type: 'Product Reviewed', properties: { product_id: 'p-1', rating: 6 } })).toEqual([
      { field: 'properties.rating', rule: 'maximum', message: 'properties.rating must be at most 5' },
    ]);
  });

  it('rejects traits whose email is not an email address', () => {
    expect(catalog.validate({ type: 'Identified', traits: { email: 'ada at example.com' } })).toEqual([
      { field: 'traits.email', rule: 'format', message: 'traits.email must be an email address' },
    ]);
  });

  it('names a problem inside an array by its index', () => {
    const problems = catalog.validate({
      type: 'Cart Viewed',
      properties: { products: [{ price: 3 }, { price: 'free' }] },
    });
    expect(problems).toEqual([
      { field: 'properties.products[1].price', rule: 'type', message: 'properties.products[1].price must be a number' },
    ]);
  });

  it('rejects properties, traits or context that are not objects', () => {
    expect(catalog.validate({ type: 'Page Viewed', properties: [], traits: 'ada', context: 7 })).toEqual([
      { field: 'properties', rule: 'type', message: 'properties must be an object' },
      { field: 'traits', rule: 'type', message: 'traits must be an object' },
      { field: 'context', rule: 'type', message: 'context must be an object' },
    ]);
  });

  it('rejects an order_id that is neither a string nor a number', () => {
    expect(catalog.validate({ type: 'Order Completed', properties: { order_id: { id: 1 } } })).toEqual([
      { field: 'properties.order_id', rule: 'type', message: 'properties.order_id must be a string or a number' },
    ]);
  });

  it('rejects a context whose ip is not a string', () => {
    expect(catalog.validate({ type: 'Page Viewed', context: { ip: 203 } })).toEqual([
      { field: 'context.ip', rule: 'type', message: 'context.ip must be a string' },
    ]);
  });

  it('rejects an event without a type, or with a type that is not a string', () => {
    expect(catalog.validate({ properties: {} })).toEqual([
      { field: 'type', rule: 'required', message: 'type is required' },
    ]);
    expect(catalog.validate({ type: 42 })).toEqual([{ field: 'type', rule: 'type', message: 'type must be a string' }]);
  });

  it('reports every problem together, not just the first', () => {
    const problems = catalog.validate({
      type: 'Order Completed',
      properties: { revenue: 'lots', currency: 'euros', products: [{ quantity: -1 }] },
      context: { ip: false },
    });
    expect(problems.map(({ field, rule }) => `${field} ${rule}`)).toEqual([
      'properties.order_id required',
      'properties.revenue type',
      'properties.currency format',
      'properties.products[0].quantity minimum',
      'context.ip type',
    ]);
  });
});

describe('event types the catalog does not describe', () => {
  it('are rejected by default', () => {
    expect(catalog.validate({ type: 'Order Complete', properties: { order_id: 'o-1' } })).toEqual([
      {
        field: 'type',
        rule: 'unknown_event_type',
        message: 'type "Order Complete" is not an event type in the catalog',
      },
    ]);
    expect(catalog.categoryOf('Order Complete')).toBeUndefined();
  });

  it('are accepted in ENGAGEMENT, marked as not described, when the catalog allows unknown types', () => {
    const lenient = createCatalog(defaultEventTypes, [], { allowUnknownTypes: true });
    expect(lenient.validate({ type: 'Wishlist Shared', properties: { anything: ['goes'] } })).toEqual([]);
    expect(lenient.categoryOf('Wishlist Shared')).toBe('ENGAGEMENT');
    expect(lenient.describes('Wishlist Shared')).toBe(false);
    expect(lenient.get('Wishlist Shared')).toBeUndefined();
  });

  it('still need object properties when accepted', () => {
    const lenient = createCatalog(defaultEventTypes, [], { allowUnknownTypes: true });
    expect(lenient.validate({ type: 'Wishlist Shared', properties: 'shared' })).toEqual([
      { field: 'properties', rule: 'type', message: 'properties must be an object' },
    ]);
  });

  it('have all their properties and traits treated as personal data', () => {
    const lenient = createCatalog(defaultEventTypes, [], { allowUnknownTypes: true });
    expect(lenient.piiFieldsOf('Wishlist Shared')).toEqual(
      expect.arrayContaining(['properties', 'traits', 'context.ip']),
    );
  });
});
