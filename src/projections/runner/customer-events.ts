import { mergePersonalData, type EventCatalog } from '../../domain/catalog/index.js';
import type { CustomerEvent, JsonObject } from '../../domain/customer-event.js';
import { customerOf } from '../../domain/identity/identity.js';
import type { StoredEvent } from '../../modules/event-store/event-store.port.js';
import type { KeyVault } from '../../modules/privacy/key-vault.js';
import { unseal, type SealedEnvelope } from '../../modules/privacy/sealing.js';

/**
 * Stored customer events as projections see them: category from the catalog and, when asked,
 * personal data opened with the customer's key while it exists.
 */
export async function toCustomerEvents(
  stored: readonly StoredEvent[],
  catalog: EventCatalog,
  keys: KeyVault,
  { openPersonalData }: { openPersonalData: boolean },
): Promise<CustomerEvent[]> {
  // A page the store hands to several projections is converted once for each way of opening it.
  const converted = conversions.get(stored);
  const known = openPersonalData ? converted?.opened : converted?.sealed;
  if (known) return known;
  const events = await convert(stored, catalog, keys, openPersonalData);
  conversions.set(stored, { ...conversions.get(stored), [openPersonalData ? 'opened' : 'sealed']: events });
  return events;
}

const conversions = new WeakMap<readonly StoredEvent[], { opened?: CustomerEvent[]; sealed?: CustomerEvent[] }>();

async function convert(stored: readonly StoredEvent[], catalog: EventCatalog, keys: KeyVault, openPersonalData: boolean): Promise<CustomerEvent[]> {
  const sealedOwners = openPersonalData ? stored.filter((event) => event.data.sealed).map((event) => customerOf(event.stream)) : [];
  const customerKeys = sealedOwners.length > 0 ? await keys.keysFor(sealedOwners, { create: false }) : new Map<string, Buffer | undefined>();
  return stored.map((event) => {
    const customerId = customerOf(event.stream);
    const data = event.data as {
      userId?: string;
      anonymousId?: string;
      channel?: string;
      properties?: JsonObject;
      traits?: JsonObject;
      context?: JsonObject;
      sealed?: SealedEnvelope;
    };
    let sections = { properties: data.properties ?? {}, traits: data.traits ?? {}, context: data.context ?? {} };
    let personalDataReadable = true;
    if (data.sealed && openPersonalData) {
      const key = customerKeys.get(customerId);
      if (key) sections = mergePersonalData(sections, unseal(key, data.sealed, event.id) as JsonObject);
      else personalDataReadable = false;
    }
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
    converted.personalDataReadable = personalDataReadable;
    if (data.sealed && !openPersonalData) converted.personalDataWithheld = true;
    return converted;
  });
}
