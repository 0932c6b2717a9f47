import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { v5 as uuidV5 } from 'uuid';
import { sectionsOf, splitPersonalData, type EventCatalog } from '../../domain/catalog/index.js';
import { Conflict, ValidationFailed, type Problem } from '../../domain/errors.js';
import { anonymousCustomerId, customerOf, isAnonymousCustomer, streamOf } from '../../domain/identity/identity.js';
import { checkEvents, type AcceptedEvent, type IncomingEvent } from '../../domain/ingestion/incoming-event.js';
import { CATALOG } from '../core/core.module.js';
import { EVENT_STORE } from '../event-store/event-store.module.js';
import { ConcurrencyConflict, EventIdConflict, type AppendRequest, type EventStore, type NewEvent } from '../event-store/event-store.port.js';
import { Metrics } from '../operations/metrics.js';
import { KeyVault } from '../privacy/key-vault.js';
import { seal } from '../privacy/sealing.js';
import { alreadyLinked, IdentityDirectory, type IdentityLink } from './identity-directory.js';

export type IngestionSource = 'graphql' | 'segment';

export interface RecordedEventResult {
  id: string;
  customerId: string;
  duplicate: boolean;
}

/** Namespace of the ids of `Identity Linked` events that Trailmap writes itself. */
const LINK_EVENT_NAMESPACE = '0f8d1f5e-3c8a-4f0e-9a55-2a7d0c6b4e21';

/**
 * The way in for customer events: checked against the catalog, attributed to the right customer,
 * personal data sealed, and appended to the customers' streams — all of a request or none of it.
 */
@Injectable()
export class IngestionService {
  constructor(
    @Inject(CATALOG) private readonly catalog: EventCatalog,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly keys: KeyVault,
    private readonly identities: IdentityDirectory,
    private readonly metrics: Metrics,
  ) {}

  /** Records a request's events (see `append`), counted and timed for /metrics. */
  async record(events: readonly IncomingEvent[], options: { source: IngestionSource; receivedAt?: string; problems?: Problem[] }): Promise<RecordedEventResult[]> {
    const timer = this.metrics.ingestDuration.startTimer({ source: options.source });
    try {
      const results = await this.append(events, options);
      this.metrics.ingestedEvents.inc({ source: options.source }, results.length);
      this.metrics.duplicateEvents.inc({ source: options.source }, results.filter((result) => result.duplicate).length);
      timer({ outcome: 'accepted' });
      return results;
    } catch (error) {
      if (error instanceof ValidationFailed || error instanceof Conflict) {
        for (const problem of error.problems) this.metrics.rejectedEvents.inc({ source: options.source, rule: problem.rule });
        timer({ outcome: 'rejected' });
      } else {
        if (error instanceof ConcurrencyConflict || error instanceof EventIdConflict) {
          this.metrics.appendConflicts.inc({ kind: error instanceof ConcurrencyConflict ? 'revision' : 'event_id' });
        }
        timer({ outcome: 'failed' });
      }
      throw error;
    }
  }

  private async append(
    events: readonly IncomingEvent[],
    {
      source,
      receivedAt = new Date().toISOString(),
      problems: found = [],
    }: { source: IngestionSource; receivedAt?: string; /** Problems the door found first, by event index. */ problems?: Problem[] },
  ): Promise<RecordedEventResult[]> {
    const { accepted, problems } = checkEvents(events, this.catalog, { receivedAt, newId: randomUUID });
    const reported = new Set(found.map((problem) => problem.index));
    const all = [...found, ...problems.filter((problem) => !reported.has(problem.index))];
    if (all.length > 0) throw new ValidationFailed(all.sort((a, b) => (a.index ?? -1) - (b.index ?? -1)));

    const { customers, links, linked } = await this.attribute(accepted);
    const correlationId = randomUUID();
    const keys = await this.keys.keysFor(customers, { create: true });
    const streams = new Map<string, NewEvent[]>();
    const append = (customerId: string, event: NewEvent) => {
      const stream = streamOf(customerId);
      const streamEvents = streams.get(stream);
      if (streamEvents) streamEvents.push(event);
      else streams.set(stream, [event]);
    };
    accepted.forEach((event, index) => {
      const customerId = customers[index]!;
      const link = links.find((candidate) => candidate.index === index);
      if (link && event.type !== 'Identity Linked') append(customerId, this.linkEvent(event, link, correlationId));
      append(customerId, this.sealed(event, customerId, keys.get(customerId), { source, receivedAt, correlationId }));
    });

    const duplicates = await this.identities.link(links, () => this.appendAll(streams, linked));
    return accepted.map((event, index) => ({ id: event.id, customerId: customers[index]!, duplicate: duplicates.get(event.id) ?? false }));
  }

  /**
   * Appends every stream's events and tells which were already stored. An event sent before its
   * visitor signed in and sent again after is in the visitor's stream: that is a duplicate too.
   */
  private async appendAll(streams: Map<string, NewEvent[]>, linked: ReadonlyMap<string, string>): Promise<Map<string, boolean>> {
    const duplicates = new Map<string, boolean>();
    for (;;) {
      const appends: AppendRequest[] = [...streams]
        .filter(([, events]) => events.length > 0)
        .map(([stream, events]) => ({ stream, events, expectedRevision: 'any' }));
      try {
        const results = await this.store.appendMany(appends);
        for (const result of results) for (const event of result.events) duplicates.set(event.id, event.duplicate);
        return duplicates;
      } catch (error) {
        if (!(error instanceof EventIdConflict) || !sameCustomer(error, linked)) throw error;
        duplicates.set(error.eventId, true);
        streams.set(error.stream, streams.get(error.stream)!.filter((event) => event.id !== error.eventId));
      }
    }
  }

  /**
   * The customer of each event, in order: a user id names its customer; an anonymous id its
   * linked user, else its own anonymous customer. An event carrying both links them.
   */
  private async attribute(events: AcceptedEvent[]): Promise<{ customers: string[]; links: IdentityLink[]; linked: Map<string, string> }> {
    const linked = await this.identities.linkedUsers(events.flatMap((event) => (event.anonymousId ? [event.anonymousId] : [])));
    const links: IdentityLink[] = [];
    const reserved: Problem[] = [];
    const conflicting: number[] = [];
    const customers = events.map((event, index) => {
      if (event.userId?.startsWith('anon:')) {
        reserved.push({ index, field: 'userId', rule: 'pattern', message: 'userId must not start with "anon:", which names anonymous visitors' });
      }
      if (!event.anonymousId) return event.userId!;
      const linkedUser = linked.get(event.anonymousId);
      if (!event.userId) return linkedUser ?? anonymousCustomerId(event.anonymousId);
      if (linkedUser === undefined) {
        // Linked already by a request in flight here: if that one fails, the visitor's next event with both ids links them.
        if (!this.identities.isBeingLinked(event.anonymousId, event.userId)) links.push({ anonymousId: event.anonymousId, customerId: event.userId, index });
        linked.set(event.anonymousId, event.userId);
      } else if (linkedUser !== event.userId) {
        conflicting.push(index);
      }
      return event.userId;
    });
    if (reserved.length > 0) throw new ValidationFailed(reserved);
    if (conflicting.length > 0) throw alreadyLinked(conflicting.map((index) => ({ index })));
    return { customers, links, linked };
  }

  /** The event as the log keeps it: catalog PII paths sealed with the customer's data key. */
  private sealed(
    event: AcceptedEvent,
    customerId: string,
    key: Buffer | undefined,
    { source, receivedAt, correlationId }: { source: IngestionSource; receivedAt: string; correlationId: string },
  ): NewEvent {
    const { plain, personal } = splitPersonalData(this.catalog, event.type, {
      properties: event.properties,
      traits: event.traits,
      context: event.context,
    });
    // A forgotten customer's key is gone: new personal data is dropped rather than kept readable.
    const sealed = key && Object.keys(personal).length > 0 ? seal(key, personal, event.id) : undefined;
    return {
      id: event.id,
      type: event.type,
      data: {
        ...(event.userId !== undefined && { userId: event.userId }),
        ...(event.anonymousId !== undefined && { anonymousId: event.anonymousId }),
        ...(event.channel !== undefined && { channel: event.channel }),
        properties: plain.properties ?? {},
        traits: plain.traits ?? {},
        context: plain.context ?? {},
        // The sections it was sealed from (names, not values): a reader that needs none of them leaves it closed.
        ...(sealed && { sealed, sealedIn: sectionsOf(personal) }),
      },
      metadata: {
        occurredAt: event.occurredAt,
        receivedAt,
        correlationId,
        schemaVersion: this.catalog.get(event.type)?.version ?? 0,
        source,
      },
    };
  }

  private linkEvent(event: AcceptedEvent, link: IdentityLink, correlationId: string): NewEvent {
    return {
      id: uuidV5(`${link.anonymousId}\u0000${link.customerId}`, LINK_EVENT_NAMESPACE),
      type: 'Identity Linked',
      data: {
        userId: link.customerId,
        anonymousId: link.anonymousId,
        properties: { previous_id: link.anonymousId },
        traits: {},
        context: {},
      },
      metadata: {
        occurredAt: event.occurredAt,
        correlationId,
        causationId: event.id,
        schemaVersion: this.catalog.get('Identity Linked')?.version ?? 0,
        source: 'trailmap',
      },
    };
  }
}

/** Whether the stream that already holds the event is the same customer's: their linked anonymous history. */
function sameCustomer(conflict: EventIdConflict, linked: ReadonlyMap<string, string>): boolean {
  const existing = customerOf(conflict.existingStream);
  return isAnonymousCustomer(existing) && linked.get(existing.slice('anon:'.length)) === customerOf(conflict.stream);
}
