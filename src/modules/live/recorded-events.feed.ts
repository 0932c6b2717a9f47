import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { EventCatalog } from '../../domain/catalog/index.js';
import { anonymousCustomerId, CUSTOMER_STREAM_PREFIX, isAnonymousCustomer } from '../../domain/identity/identity.js';
import { linkedAnonymousId } from '../../domain/profile/index.js';
import { toCustomerEvents } from '../../projections/runner/customer-events.js';
import { CATALOG, LOGGER } from '../core/core.module.js';
import { recordedEvent } from '../customers/customers.resolver.js';
import { EVENT_STORE } from '../event-store/event-store.module.js';
import type { EventStore, StoredEvent } from '../event-store/event-store.port.js';
import { IdentityDirectory } from '../ingestion/identity-directory.js';
import type { Logger } from '../logging/logger.js';
import { KeyVault } from '../privacy/key-vault.js';
import { FollowedCustomer } from './followed-customer.js';
import { SubscriberBuffer } from './subscriber-buffer.js';

export type RecordedEventMessage = ReturnType<typeof recordedEvent>;

export interface RecordedEventFilter {
  customerId?: string;
  /** Whether the subscriber may read personal data: it is opened for it, and only for it. */
  personalData: boolean;
}

interface RecordedEventSubscriber {
  customer?: FollowedCustomer;
  personalData: boolean;
  buffer: SubscriberBuffer<RecordedEventMessage>;
}

/** One subscription of this instance to the log, shared by every `eventRecorded` subscriber. */
interface Follower {
  stop: AbortController;
  /** Settles once the log's head is known: every event appended after it reaches the subscribers. */
  started: Promise<unknown>;
  running: Promise<void>;
}

/**
 * `eventRecorded` on this instance: it follows the event store from its head while anyone subscribes
 * (started by the first subscriber, stopped when the last leaves) and fans every customer event out
 * in memory, its personal data opened only for subscribers allowed to read it.
 */
@Injectable()
export class RecordedEventsFeed implements OnModuleDestroy {
  private readonly subscribers = new Set<RecordedEventSubscriber>();
  private follower?: Follower;
  private readonly stopping = new Set<Promise<void>>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CATALOG) private readonly catalog: EventCatalog,
    private readonly keys: KeyVault,
    private readonly identities: IdentityDirectory,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Whether this instance follows the log now. */
  get following(): boolean {
    return this.follower !== undefined;
  }

  async subscribe({ customerId, personalData }: RecordedEventFilter): Promise<SubscriberBuffer<RecordedEventMessage>> {
    const subscriber: RecordedEventSubscriber = {
      customer: customerId === undefined ? undefined : new FollowedCustomer(customerId),
      personalData,
      buffer: new SubscriberBuffer(() => this.leave(subscriber)),
    };
    this.subscribers.add(subscriber);
    try {
      await (this.follower ??= this.follow()).started;
      // A visitor already linked: its events go to its user's stream now.
      if (subscriber.customer?.awaitingLink) {
        const [user] = (await this.identities.linkedUsers([anonymousIdOf(subscriber.customer.requested)])).values();
        if (user) subscriber.customer.follow(user);
      }
    } catch (error) {
      void subscriber.buffer.return();
      throw error;
    }
    return subscriber.buffer;
  }

  async onModuleDestroy() {
    if (this.follower) this.retire(this.follower);
    await Promise.all(this.stopping);
    for (const subscriber of this.subscribers) subscriber.buffer.end();
  }

  private leave(subscriber: RecordedEventSubscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0 && this.follower) this.retire(this.follower);
  }

  private retire(follower: Follower): void {
    if (this.follower === follower) this.follower = undefined;
    follower.stop.abort();
  }

  private follow(): Follower {
    const stop = new AbortController();
    const started = this.store.headPosition();
    const running = (async () => {
      const after = await started;
      for await (const stored of this.store.subscribe({ after, streamPrefix: CUSTOMER_STREAM_PREFIX, signal: stop.signal })) {
        await this.deliver(stored, stop.signal);
      }
    })().catch((error: unknown) => {
      if (stop.signal.aborted) return;
      this.logger.error({ err: error }, 'the recorded event feed stopped following the log; its subscriptions end');
      this.retire(follower);
      for (const subscriber of this.subscribers) subscriber.buffer.fail(error);
    });
    const follower: Follower = { stop, started, running };
    this.stopping.add(running);
    void running.finally(() => this.stopping.delete(running));
    return follower;
  }

  private async deliver(stored: StoredEvent, stopped: AbortSignal): Promise<void> {
    const [event] = await toCustomerEvents([stored], this.catalog, this.keys, { openPersonalData: false });
    if (event!.type === 'Identity Linked') {
      const visitor = linkedAnonymousId(event!);
      if (visitor) {
        const visitorId = anonymousCustomerId(visitor);
        for (const { customer } of this.subscribers) if (customer?.requested === visitorId) customer.follow(event!.customerId);
      }
    }
    const audience = [...this.subscribers].filter(({ customer }) => !customer || customer.includes(event!.customerId));
    if (audience.length === 0) return;
    const closed = recordedEvent(event!);
    let open = closed;
    if (stored.data.sealed && audience.some((subscriber) => subscriber.personalData)) {
      try {
        const [opened] = await toCustomerEvents([stored], this.catalog, this.keys, { openPersonalData: true });
        open = recordedEvent(opened!);
      } catch (error) {
        this.logger.error({ err: error, eventId: stored.id }, 'personal data of a recorded event could not be opened; those subscriptions end');
        for (const subscriber of audience) if (subscriber.personalData) subscriber.buffer.fail(error);
      }
    }
    if (stopped.aborted) return;
    for (const subscriber of audience) subscriber.buffer.push(subscriber.personalData ? open : closed);
  }
}

function anonymousIdOf(customerId: string): string {
  return isAnonymousCustomer(customerId) ? customerId.slice(anonymousCustomerId('').length) : customerId;
}
