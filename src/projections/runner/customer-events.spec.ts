import { createCatalog, defaultEventTypes, sectionsOf, splitPersonalData, type EventSections } from '../../domain/catalog/index.js';
import type { CustomerEvent } from '../../domain/customer-event.js';
import { fromSegmentMessage } from '../../domain/ingestion/segment.js';
import { evolveProfile, profileReadsSealed, type CustomerProfile } from '../../domain/profile/index.js';
import { generateJourneys } from '../../demo/journeys.js';
import type { StoredEvent } from '../../modules/event-store/event-store.port.js';
import type { KeyVault } from '../../modules/privacy/key-vault.js';
import { seal } from '../../modules/privacy/sealing.js';
import { toCustomerEvents } from './customer-events.js';

const catalog = createCatalog(defaultEventTypes);
const key = Buffer.alloc(32, 7);

/** The vault's answer for customers whose key exists; a customer named `forgotten` has none. */
const vault = {
  keysFor: async (customerIds: Iterable<string>) => new Map([...customerIds].map((customerId) => [customerId, customerId === 'forgotten' ? undefined : key])),
} as unknown as KeyVault;

let position = 0;

/** An event as the ingestion stores it: personal values sealed, with the sections they came from unless `legacy`. */
function stored(customerId: string, type: string, sections: EventSections, { legacy = false } = {}): StoredEvent {
  position += 1;
  const id = `00000000-0000-4000-8000-${String(position).padStart(12, '0')}`;
  const { plain, personal } = splitPersonalData(catalog, type, sections);
  const sealed = Object.keys(personal).length > 0 ? seal(key, personal, id) : undefined;
  const at = new Date(Date.UTC(2026, 0, 1) + position * 60_000).toISOString();
  return {
    id,
    type,
    stream: `customer-${customerId}`,
    revision: position,
    position: String(position).padStart(20, '0'),
    data: { ...(customerId.startsWith('anon:') ? { anonymousId: customerId.slice(5) } : { userId: customerId }), properties: {}, traits: {}, context: {}, ...plain, ...(sealed && { sealed, ...(!legacy && { sealedIn: sectionsOf(personal) }) }) },
    metadata: { occurredAt: at, recordedAt: at, schemaVersion: 1 },
  };
}

describe('customer events for the profile', () => {
  it('opens only the events whose sealed sections the profile reads', async () => {
    const page = [
      stored('u1', 'Identified', { traits: { email: 'ada@example.com', plan: 'pro' }, context: { ip: '10.0.0.1' } }),
      stored('u1', 'Page Viewed', { properties: { url: 'https://shop.example/?ref=ada@example.com' }, context: { ip: '10.0.0.1' } }),
      stored('u1', 'Order Completed', { properties: { order_id: 'o1', revenue: 30, shipping_address: { city: 'Leeds' } } }),
      stored('u1', 'Page Viewed', { properties: { url: 'https://shop.example/?ref=x' } }, { legacy: true }),
    ];
    const [identified, viewed, ordered, legacyView] = await toCustomerEvents(page, catalog, vault, { openPersonalData: profileReadsSealed });
    // What it leaves closed is what a reader that opens nothing sees, the very same events.
    const closed = await toCustomerEvents(page, catalog, vault, { openPersonalData: false });
    expect(viewed).toBe(closed[1]);
    expect([identified, ordered, legacyView].some((event, index) => event === closed[[0, 2, 3][index]!])).toBe(false);
    expect(identified).toMatchObject({ traits: { email: 'ada@example.com', plan: 'pro' }, context: { ip: '10.0.0.1' }, personalDataReadable: true });
    expect(identified!.personalDataWithheld).toBeUndefined();
    expect(viewed).toMatchObject({ properties: { url: 'https://shop.example/' }, context: {}, personalDataReadable: true, personalDataWithheld: true });
    expect(ordered).toMatchObject({ properties: { revenue: 30, shipping_address: { city: 'Leeds' } }, personalDataReadable: true });
    // Stored before the sections were recorded: it may hold anything, so it is opened.
    expect(legacyView).toMatchObject({ properties: { url: 'https://shop.example/?ref=x' } });
  });

  it('shares conversions event by event among live readers, whose batches are pieces of the same pages', async () => {
    const page = [
      stored('u2', 'Identified', { traits: { email: 'bo@example.com' } }),
      stored('u2', 'Page Viewed', { context: { ip: '10.0.0.3' } }),
      stored('u2', 'Page Viewed', { properties: { url: 'https://shop.example/' } }),
    ];
    const closed = await toCustomerEvents(page, catalog, vault, { openPersonalData: false, sharedBy: 'event' });
    const piece = await toCustomerEvents(page.slice(1), catalog, vault, { openPersonalData: false, sharedBy: 'event' });
    expect(piece[0]).toBe(closed[1]);
    expect(piece[1]).toBe(closed[2]);
    // The profile's reader opens what it reads and shares the rest with the closed readers.
    const [identified, viewed] = await toCustomerEvents(page.slice(0, 2), catalog, vault, { openPersonalData: profileReadsSealed, sharedBy: 'event' });
    expect(identified).not.toBe(closed[0]);
    expect(identified).toMatchObject({ traits: { email: 'bo@example.com' } });
    expect(viewed).toBe(closed[1]);
    const opened = await toCustomerEvents(page.slice(1), catalog, vault, { openPersonalData: true, sharedBy: 'event' });
    expect(opened[0]).not.toBe(closed[1]);
    expect(opened[0]).toMatchObject({ context: { ip: '10.0.0.3' } });
    expect(closed[1]).toMatchObject({ context: {} });
  });

  it('says a forgotten customer’s personal data is unreadable whether or not it would have been opened', async () => {
    const events = await toCustomerEvents(
      [stored('forgotten', 'Identified', { traits: { email: 'gone@example.com' } }), stored('forgotten', 'Page Viewed', { context: { ip: '10.0.0.2' } })],
      catalog,
      vault,
      { openPersonalData: profileReadsSealed },
    );
    expect(events.map((event) => [event.personalDataReadable, event.traits])).toEqual([
      [false, {}],
      [false, {}],
    ]);
  });

  it('folds the demo journeys to the same profiles as with every event opened', async () => {
    const receivedAt = '2026-01-01T00:00:00.000Z';
    const log: StoredEvent[] = [];
    for (const message of generateJourneys({ customers: 300, seed: 3, start: '2025-11-01T00:00:00.000Z', days: 60 })) {
      const event = fromSegmentMessage(message.type, message, { receivedAt });
      const customerId = typeof event.userId === 'string' ? event.userId : `anon:${String(event.anonymousId)}`;
      log.push(stored(customerId, String(event.type), { properties: event.properties, traits: event.traits, context: event.context } as EventSections));
    }
    const profiles = async (openPersonalData: typeof profileReadsSealed | true) => {
      const folded = new Map<string, CustomerProfile>();
      for (const event of await toCustomerEvents(log, catalog, vault, { openPersonalData })) {
        folded.set(event.customerId, evolveProfile(folded.get(event.customerId) ?? null, event as CustomerEvent));
      }
      return folded;
    };
    const opened = await profiles(true);
    const chosen = await profiles(profileReadsSealed);
    expect([...opened.values()].filter((profile) => profile.email !== null).length).toBeGreaterThan(50);
    expect(chosen).toEqual(opened);
  });
});
