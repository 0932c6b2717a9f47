import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CUSTOMER_UPDATED_CHANNEL } from '../../projections/profile/profile.projection.js';
import { LOGGER } from '../core/core.module.js';
import { CustomersService, type CustomerView } from '../customers/customers.service.js';
import { Database } from '../database/database.js';
import type { Logger } from '../logging/logger.js';
import { Audience, FollowedCustomer, mergedVisitors } from './followed-customer.js';
import { NoticeBatches } from './notice-batches.js';
import { SubscriberBuffer } from './subscriber-buffer.js';

interface CustomerSubscriber {
  customer: FollowedCustomer;
  buffer: SubscriberBuffer<CustomerView>;
}

/**
 * `customerUpdated` on this instance: the profile projection announces each updated customer id by
 * NOTIFY; the customer is read once per batch and pushed to its subscribers, whose Customer field
 * resolvers then apply (personal data included) as for a query.
 */
@Injectable()
export class CustomerUpdatesFeed implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly subscribers = new Audience<CustomerSubscriber>();
  private readonly notices: NoticeBatches;

  constructor(
    private readonly database: Database,
    private readonly customers: CustomersService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.notices = new NoticeBatches(database, CUSTOMER_UPDATED_CHANNEL, {
      wanted: () => this.subscribers.size > 0,
      handle: (customerIds, interrupted) => this.deliver(customerIds, interrupted),
    });
  }

  /** Listening from the start, so that a first subscriber misses nothing while a connection opens. */
  onApplicationBootstrap() {
    this.notices.start();
  }

  async onModuleDestroy() {
    await this.notices.stop();
    for (const subscriber of this.subscribers) subscriber.buffer.end();
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  subscribe(customerId: string): SubscriberBuffer<CustomerView> {
    const subscriber: CustomerSubscriber = {
      customer: new FollowedCustomer(customerId),
      buffer: new SubscriberBuffer(() => this.subscribers.delete(subscriber)),
    };
    this.subscribers.add(subscriber);
    return subscriber.buffer;
  }

  private async deliver(updated: string[], interrupted: boolean): Promise<void> {
    const subscribers = [...this.subscribers];
    const asOf = this.subscribers.now;
    try {
      const merged = await mergedVisitors(this.database, 'customer_profiles', this.subscribers.awaitingLink());
      for (const [visitor, user] of merged) this.subscribers.link(visitor, user);
      // After a lost connection each subscriber gets its customer as it is now: updates meanwhile are not lost.
      const deliveries: [customerId: string, audience: CustomerSubscriber[]][] = interrupted
        ? subscribers.map((subscriber) => [subscriber.customer.requested, [subscriber]])
        : [...new Set(updated)].map((customerId) => [customerId, this.subscribers.of(asOf, customerId)]);
      const wanted = deliveries.filter(([, audience]) => audience.length > 0);
      const views = await Promise.all(wanted.map(([customerId]) => this.customers.customer(customerId)));
      wanted.forEach(([, audience], index) => {
        const view = views[index];
        if (view) for (const subscriber of audience) subscriber.buffer.push(view);
      });
    } catch (error) {
      this.logger.error({ err: error }, 'customer updates could not be delivered; their subscriptions end');
      for (const subscriber of subscribers) subscriber.buffer.fail(error);
    }
  }
}
