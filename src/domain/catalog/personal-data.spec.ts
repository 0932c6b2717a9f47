import { parseCatalogExtension } from './catalog-extension.js';
import { defaultEventTypes } from './default-catalog.js';
import { createCatalog } from './event-catalog.js';
import { analyticsProperties, mergePersonalData, splitPersonalData } from './personal-data.js';

const engraving = parseCatalogExtension({
  eventTypes: [
    {
      name: 'Gift Ordered',
      category: 'CONVERSION',
      version: 1,
      schema: {
        type: 'object',
        properties: {
          order_id: { type: 'string' },
          recipients: { type: 'array', items: { type: 'object' } },
          products: {
            type: 'array',
            items: { type: 'object', properties: { product_id: { type: 'string' }, engraving: { type: 'string' } } },
          },
        },
      },
      traitsSchema: { type: 'object' },
      piiFields: ['properties.recipients', 'properties.products.engraving', 'traits.address', 'traits.address.city'],
    },
    {
      name: 'Address Confirmed',
      category: 'IDENTITY',
      version: 1,
      piiFields: ['traits.address.city', 'traits.address.street'],
    },
  ],
});
const catalog = createCatalog(defaultEventTypes, engraving, { allowUnknownTypes: true });

describe('splitting personal data out of an event', () => {
  it('moves PII traits and the context ip out, keeping the rest plain', () => {
    const identified = {
      traits: { email: 'ada@example.com', plan: 'pro', address: { city: 'London', country: 'GB' } },
      context: { ip: '203.0.113.9', locale: 'en-GB' },
    };
    expect(splitPersonalData(catalog, 'Identified', identified)).toEqual({
      plain: { traits: { plan: 'pro' }, context: { locale: 'en-GB' } },
      personal: {
        'traits.email': 'ada@example.com',
        'traits.address': { city: 'London', country: 'GB' },
        'context.ip': '203.0.113.9',
      },
    });
  });

  it('moves a single nested field out of an object, keeping its siblings plain', () => {
    const event = { traits: { address: { street: '1 Main St', city: 'Leeds', country: 'GB' } } };
    expect(splitPersonalData(catalog, 'Address Confirmed', event)).toEqual({
      plain: { traits: { address: { country: 'GB' } } },
      personal: { 'traits.address.city': 'Leeds', 'traits.address.street': '1 Main St' },
    });
  });

  it('moves a whole array out when a path names it, and a field out of each element when a path goes into it', () => {
    const event = {
      properties: {
        order_id: 'o-1',
        recipients: [{ name: 'Grace' }],
        products: [
          { product_id: 'p-1', engraving: 'For Grace' },
          { product_id: 'p-2' },
          { product_id: 'p-3', engraving: 'Ada' },
        ],
      },
    };
    expect(splitPersonalData(catalog, 'Gift Ordered', event)).toEqual({
      plain: {
        properties: { order_id: 'o-1', products: [{ product_id: 'p-1' }, { product_id: 'p-2' }, { product_id: 'p-3' }] },
      },
      personal: {
        'properties.recipients': [{ name: 'Grace' }],
        'properties.products[0].engraving': 'For Grace',
        'properties.products[2].engraving': 'Ada',
      },
    });
  });

  it('records a value once when both an object and a field inside it are personal', () => {
    const { personal } = splitPersonalData(catalog, 'Gift Ordered', { traits: { address: { city: 'Leeds' } } });
    expect(personal).toEqual({ 'traits.address': { city: 'Leeds' } });
  });

  it('leaves an event without personal data as it is', () => {
    const event = { properties: { order_id: 'o-1', revenue: 25 } };
    expect(splitPersonalData(catalog, 'Order Refunded', event)).toEqual({ plain: event, personal: {} });
  });

  it('treats the whole properties and traits of an undescribed type as personal', () => {
    const event = { properties: { wishlist: 'birthday' }, traits: { nickname: 'ada' }, context: { locale: 'en' } };
    expect(splitPersonalData(catalog, 'Wishlist Shared', event)).toEqual({
      plain: { context: { locale: 'en' } },
      personal: { properties: { wishlist: 'birthday' }, traits: { nickname: 'ada' } },
    });
  });

  it('keeps a field named __proto__ as a field of the object it was copied from', () => {
    const event = JSON.parse('{"traits":{"email":"ada@example.com","__proto__":{"plan":"pro"},"tier":1}}') as { traits: Record<string, unknown> };
    const { plain } = splitPersonalData(catalog, 'Identified', event);
    expect(Object.getPrototypeOf(plain.traits)).toBe(Object.prototype);
    expect(Object.entries(plain.traits)).toEqual([
      ['__proto__', { plan: 'pro' }],
      ['tier', 1],
    ]);
  });

  it('copies only the objects something was taken from', () => {
    const event = { properties: { order_id: 'o-1', shipping_address: { city: 'Paris' } }, context: { locale: 'en' }, traits: {} };
    const { plain } = splitPersonalData(catalog, 'Order Completed', event);
    expect(plain.properties).toEqual({ order_id: 'o-1' });
    expect(plain.context).toBe(event.context);
    expect(plain.traits).toBe(event.traits);
  });

  it('does not change the event it splits', () => {
    const event = { traits: { email: 'ada@example.com', address: { city: 'Leeds' } } };
    const copy = structuredClone(event);
    splitPersonalData(catalog, 'Gift Ordered', event);
    splitPersonalData(catalog, 'Identified', event);
    expect(event).toEqual(copy);
  });
});

describe('merging personal data back', () => {
  it.each([
    [
      'Identified',
      { traits: { email: 'ada@example.com', address: { city: 'London' }, plan: 'pro' }, context: { ip: '::1' } },
    ],
    ['Address Confirmed', { traits: { address: { street: '1 Main St', city: 'Leeds', country: 'GB' } } }],
    [
      'Gift Ordered',
      {
        properties: {
          recipients: [{ name: 'Grace' }],
          products: [{ product_id: 'p-1', engraving: 'For Grace' }, { product_id: 'p-2' }],
        },
        traits: { address: { city: 'Leeds' } },
      },
    ],
    [
      'Order Completed',
      { properties: { order_id: 'o-1', shipping_address: { city: 'Paris' } }, context: { ip: null } },
    ],
    ['Wishlist Shared', { properties: { wishlist: 'birthday' } }],
  ])('restores a %s event exactly after a JSON round trip of its parts', (type, event) => {
    const { plain, personal } = splitPersonalData(catalog, type, event);
    const stored = JSON.parse(JSON.stringify({ plain, personal }));
    expect(mergePersonalData(stored.plain, stored.personal)).toEqual(event);
  });

  it('creates the objects a personal value lived in when the plain part no longer has them', () => {
    expect(mergePersonalData({}, { 'traits.address.city': 'Leeds' })).toEqual({
      traits: { address: { city: 'Leeds' } },
    });
  });

  it('gives back the plain event when the personal data is gone (the customer was forgotten)', () => {
    const plain = { properties: { order_id: 'o-1' } };
    expect(mergePersonalData(plain, {})).toEqual(plain);
  });
});

describe('the properties analytics may keep', () => {
  it('drops personal data and properties the schema does not declare', () => {
    const properties = {
      order_id: 'o-1',
      revenue: 25,
      currency: 'EUR',
      shipping_address: { city: 'Paris' },
      customer_email: 'ada@example.com',
      products: [{ product_id: 'p-1', price: 25, quantity: 1, engraving: 'Ada' }],
    };
    expect(analyticsProperties(catalog, 'Order Completed', properties)).toEqual({
      order_id: 'o-1',
      revenue: 25,
      currency: 'EUR',
      products: [{ product_id: 'p-1', price: 25, quantity: 1 }],
    });
  });

  it('drops free text: search queries, review bodies, ticket subjects and bodies', () => {
    expect(analyticsProperties(catalog, 'Products Searched', { query: 'shoes for ada' })).toEqual({});
    const review = { product_id: 'p-1', rating: 4, review_body: 'Great' };
    expect(analyticsProperties(catalog, 'Product Reviewed', review)).toEqual({ product_id: 'p-1', rating: 4 });
    const ticket = { ticket_id: 't-1', subject: 'Refund', body: 'Please', priority: 'high' };
    expect(analyticsProperties(catalog, 'Support Ticket Created', ticket)).toEqual({ ticket_id: 't-1', priority: 'high' });
  });

  it('drops a personal field inside array elements and objects without declared fields', () => {
    const properties = {
      order_id: 'o-1',
      recipients: [{ name: 'Grace' }],
      products: [{ product_id: 'p-1', engraving: 'Ada' }],
    };
    expect(analyticsProperties(catalog, 'Gift Ordered', properties)).toEqual({
      order_id: 'o-1',
      products: [{ product_id: 'p-1' }],
    });
  });

  it('strips the query string and fragment from URLs, referrers and paths', () => {
    const properties = {
      url: 'https://shop.example/shoes?email=ada%40example.com#reviews',
      referrer: 'https://search.example/?q=ada+lovelace',
      path: '/shoes?utm_source=mail',
      title: 'Shoes',
      search: '?email=ada%40example.com',
    };
    expect(analyticsProperties(catalog, 'Page Viewed', properties)).toEqual({
      url: 'https://shop.example/shoes',
      referrer: 'https://search.example/',
      path: '/shoes',
      title: 'Shoes',
    });
  });

  it('strips the query string from URL fields of array elements', () => {
    const properties = { products: [{ product_id: 'p-1', image_url: 'https://cdn.example/p-1.jpg?token=secret' }] };
    expect(analyticsProperties(catalog, 'Cart Viewed', properties)).toEqual({
      products: [{ product_id: 'p-1', image_url: 'https://cdn.example/p-1.jpg' }],
    });
  });

  it('keeps nothing of a type the catalog does not describe', () => {
    expect(analyticsProperties(catalog, 'Wishlist Shared', { wishlist: 'birthday', count: 3 })).toEqual({});
  });
});

describe('URLs in events', () => {
  const catalog = createCatalog(defaultEventTypes);

  it('keep their address in the plain event and their query string and fragment with the personal values', () => {
    const event = {
      properties: { path: '/p?ref=x', url: 'https://shop.example/p?email=ada@example.com#top', title: 'P' },
      context: { page: { url: 'https://shop.example/p?token=abc', referrer: 'https://mail.example/' } },
    };
    const { plain, personal } = splitPersonalData(catalog, 'Page Viewed', event);
    expect(plain.properties).toEqual({ path: '/p', url: 'https://shop.example/p', title: 'P' });
    expect(plain.context).toEqual({ page: { url: 'https://shop.example/p', referrer: 'https://mail.example/' } });
    expect(JSON.stringify(plain)).not.toContain('ada@example.com');
    expect(mergePersonalData(plain, personal)).toEqual(event);
  });
});
