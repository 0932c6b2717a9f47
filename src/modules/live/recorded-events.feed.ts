import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { EventCatalog } from '../../domain/catalog/index.js';
import { anonymousCustomerId, CUSTOMER_STREAM_PREFIX, customerOf, isAnonymousCustomer } from '../../domain/identity/identity.js';
import { linkedAnonymousId } from '../../domain/profile/index.js';
import { toCustomerEvents } from '../../projections/runner/customer-events.js';
import { CATALOG, LOGGER } from '../core/core.module.js';
import { recordedEvent } from '../customers/customers.resolver.js';
import { EVENT_STORE } from '../event-store/event-store.module.js';
import type { EventStore, StoredEvent } from '../event-store/event-store.port.js';
import { IdentityDirectory } from '../ingestion/identity-directory.js';
import type { Logger } from '../logging/logger.js';
import { KeyVault } from '../privacy/key-vault.js';
import { Audience, FollowedCustomer } from './followed-customer.js';
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
  /** Set once the log's head is known: everything appended from then on reaches it. */
  registered: boolean;
}

/** One subscription of this instance to the log, shared by every `eventRecorded` subscriber. */
interface Follower {
  stop: AbortController;
  /** Settles once the log's head is known: every event appended after it reaches the subscribers. */
  started: Promise<unknown>;
}

/**
 * `eventRecorded` on this instance: it follows the event store from its head while anyone subscribes
 * (started by the first subscriber, stopped when the last leaves) and fans every customer event out
 * in memory, its personal data opened only for subscribers allowed to read it.
 */
@Injectable()
export class RecordedEventsFeed implements OnModuleDestroy {
  private readonly subscribers = new Audience<RecordedEventSubscriber>();
  private follower?: Follower;
  /** Every follower still running, retired ones included, for shutdown to wait for. */
  private readonly running = new Set<Promise<void>>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CATALOG) private readonly catalog: EventCatalog,
    private readonly keys: KeyVault,
    private readonly identities: IdentityDirectory,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Subscribers that receive every event appended from now on. */
  get subscriberCount(): number {
    return [...this.subscribers].filter((subscriber) => subscriber.registered).length;
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
      registered: false,
    };
    this.subscribers.add(subscriber);
    try {
      await (this.follower ??= this.follow()).started;
      // A visitor already linked: its events go to its user's stream now.
      if (subscriber.customer?.awaitingLink) {
        const [user] = (await this.identities.linkedUsers([anonymousIdOf(subscriber.customer.requested)])).values();
        if (user) this.subscribers.link(subscriber.customer.requested, user);
      }
    } catch (error) {
      void subscriber.buffer.return();
      throw error;
    }
    subscriber.registered = true;
    return subscriber.buffer;
  }

  async onModuleDestroy() {
    if (this.follower) this.retire(this.follower);
    await Promise.all(this.running);
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
      for await (const page of this.store.subscribe({ after, streamPrefix: CUSTOMER_STREAM_PREFIX, signal: stop.signal })) {
        for (const stored of page) await this.deliver(stored, stop.signal);
      }
    })().catch((error: unknown) => {
      if (stop.signal.aborted) return;
      this.logger.error({ err: error }, 'the recorded event feed stopped following the log; its subscriptions end');
      this.retire(follower);
      for (const subscriber of this.subscribers) subscriber.buffer.fail(error);
    });
    const follower: Follower = { stop, started };
    this.running.add(running);
    void running.finally(() => this.running.delete(running));
    return follower;
  }

  private async deliver(stored: StoredEvent, stopped: AbortSignal): Promise<void> {
    const customerId = customerOf(stored.stream);
    if (stored.type === 'Identity Linked') await this.followLink(stored);
    const audience = this.subscribers.of(this.subscribers.now, customerId);
    if (audience.length === 0) return;
    const [event] = await toCustomerEvents([stored], this.catalog, this.keys, { openPersonalData: false });
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

  /** From its link on, a visitor's subscribers follow its user too: the visitor's later events go to the user's stream. */
  private async followLink(link: StoredEvent): Promise<void> {
    const [event] = await toCustomerEvents([link], this.catalog, this.keys, { openPersonalData: false });
    const visitor = linkedAnonymousId(event!);
    if (!visitor) return;
    const visitorId = anonymousCustomerId(visitor);
    this.subscribers.link(visitorId, event!.customerId);
  }
}

function anonymousIdOf(customerId: string): string {
  return isAnonymousCustomer(customerId) ? customerId.slice(anonymousCustomerId('').length) : customerId;
}
