import { mergePersonalData, type EventCatalog, type EventSection } from '../../domain/catalog/index.js';
import type { CustomerEvent, JsonObject } from '../../domain/customer-event.js';
import { customerOf } from '../../domain/identity/identity.js';
import type { StoredEvent } from '../../modules/event-store/event-store.port.js';
import type { KeyVault } from '../../modules/privacy/key-vault.js';
import { unseal, type SealedEnvelope } from '../../modules/privacy/sealing.js';

/** Which events' personal data a reader needs opened: all, none, or those this picks by type and sealed sections. */
export type PersonalDataNeed = boolean | ((type: string, sealedIn: readonly EventSection[] | undefined) => boolean);

/**
 * How the projections of a thread share conversions: `page`, whole arrays, for the store's pages as a
 * rebuild reads them; `event`, event by event, for the pieces of pages that live readers get, each in
 * an array of its own. (Event by event costs a weak entry per event: a rebuild measured slower with it.)
 */
export type ConversionSharing = 'page' | 'event';

/**
 * Stored customer events as projections see them: category from the catalog and, where asked,
 * personal data opened with the customer's key while it exists.
 */
export async function toCustomerEvents(
  stored: readonly StoredEvent[],
  catalog: EventCatalog,
  keys: KeyVault,
  { openPersonalData, sharedBy = 'page' }: { openPersonalData: PersonalDataNeed; sharedBy?: ConversionSharing },
): Promise<CustomerEvent[]> {
  if (sharedBy === 'event') return eachConvertedOnce(stored, catalog, keys, openPersonalData);
  // A page the store hands to several projections is converted once for each way of opening it.
  const known = pageConversions.get(stored)?.get(openPersonalData);
  if (known) return known;
  const events = await convert(stored, catalog, keys, openPersonalData, sharedBy);
  // Looked up again: conversions made while this one awaited stay.
  let converted = pageConversions.get(stored);
  if (!converted) pageConversions.set(stored, (converted = new Map()));
  converted.set(openPersonalData, events);
  return events;
}

const pageConversions = new WeakMap<readonly StoredEvent[], Map<PersonalDataNeed, CustomerEvent[]>>();

async function eachConvertedOnce(stored: readonly StoredEvent[], catalog: EventCatalog, keys: KeyVault, openPersonalData: PersonalDataNeed): Promise<CustomerEvent[]> {
  const known = eventConversionsFor(openPersonalData);
  const missing = stored.filter((event) => !known.has(event));
  if (missing.length > 0) {
    const events = await convert(missing, catalog, keys, openPersonalData, 'event');
    // Conversions made while this one awaited stay: one object per event and way of opening it, whoever asks.
    missing.forEach((event, index) => known.has(event) || known.set(event, events[index]!));
  }
  return stored.map((event) => known.get(event)!);
}

type EventConversions = WeakMap<StoredEvent, CustomerEvent>;
const allOpened: EventConversions = new WeakMap();
const noneOpened: EventConversions = new WeakMap();
const someOpened = new WeakMap<Exclude<PersonalDataNeed, boolean>, EventConversions>();

function eventConversionsFor(need: PersonalDataNeed): EventConversions {
  if (typeof need === 'boolean') return need ? allOpened : noneOpened;
  let conversions = someOpened.get(need);
  if (!conversions) someOpened.set(need, (conversions = new WeakMap()));
  return conversions;
}

interface StoredCustomerData {
  userId?: string;
  anonymousId?: string;
  channel?: string;
  properties?: JsonObject;
  traits?: JsonObject;
  context?: JsonObject;
  sealed?: SealedEnvelope;
  sealedIn?: EventSection[];
}

async function convert(
  stored: readonly StoredEvent[],
  catalog: EventCatalog,
  keys: KeyVault,
  openPersonalData: PersonalDataNeed,
  sharedBy: ConversionSharing,
): Promise<CustomerEvent[]> {
  const sealedOwners = openPersonalData === false ? [] : stored.filter((event) => event.data.sealed).map((event) => customerOf(event.stream));
  const customerKeys = sealedOwners.length > 0 ? await keys.keysFor(sealedOwners, { create: false }) : new Map<string, Buffer | undefined>();
  const opens = (type: string, data: StoredCustomerData) =>
    typeof openPersonalData === 'boolean' ? openPersonalData : openPersonalData(type, data.sealedIn);
  // A reader that opens only some events sees the others as a closed reader does: the same objects serve both.
  const closed = typeof openPersonalData === 'function' ? await toCustomerEvents(stored, catalog, keys, { openPersonalData: false, sharedBy }) : undefined;
  return stored.map((event, index) => {
    const customerId = customerOf(event.stream);
    const data = event.data as StoredCustomerData;
    const reading = data.sealed !== undefined && openPersonalData !== false;
    const key = reading ? customerKeys.get(customerId) : undefined;
    const opened = key !== undefined && opens(event.type, data);
    if (closed && (!data.sealed || (key && !opened))) return closed[index]!;
    const plain = { properties: data.properties ?? {}, traits: data.traits ?? {}, context: data.context ?? {} };
    const sections = opened ? mergePersonalData(plain, unseal(key, data.sealed!, event.id) as JsonObject) : plain;
    // Built field by field rather than with conditional spreads: this runs for every event of every projection.
    const converted: CustomerEvent = {
      id: event.id,
      type: event.type,
      category: catalog.categoryOf(event.type) ?? 'ENGAGEMENT',
      customerId,
      revision: event.revision,
      position: event.position,
      occurredAt: event.metadata.occurredAt,
      recordedAt: event.metadata.recordedAt,
    } as CustomerEvent;
    if (data.userId !== undefined) converted.userId = data.userId;
    if (data.anonymousId !== undefined) converted.anonymousId = data.anonymousId;
    if (data.channel !== undefined) converted.channel = data.channel;
    converted.properties = sections.properties;
    converted.traits = sections.traits;
    converted.context = sections.context;
    converted.personalDataReadable = !reading || key !== undefined;
    if (data.sealed && !opened) converted.personalDataWithheld = true;
    return converted;
  });
}
