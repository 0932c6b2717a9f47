import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { JourneyStage } from '../../domain/customer-event.js';
import { Unavailable } from '../../domain/errors.js';
import { STAGE_CHANGED_CHANNEL } from '../../projections/journey/journey.projection.js';
import { LOGGER } from '../core/core.module.js';
import { Database } from '../database/database.js';
import type { Logger } from '../logging/logger.js';
import { Audience, FollowedCustomer, mergedVisitors } from './followed-customer.js';
import { NoticeBatches } from './notice-batches.js';
import { readStageChangedNotice, type StageChange, type StageChangeReference } from './stage-changed-notice.js';
import { SubscriberBuffer } from './subscriber-buffer.js';

export interface StageChangeFilter {
  customerId?: string;
  to?: JourneyStage;
}

interface StageSubscriber {
  customer?: FollowedCustomer;
  to?: JourneyStage;
  buffer: SubscriberBuffer<StageChange>;
}

/**
 * `journeyStageChanged` on this instance: the transitions that the journey projection commits on any
 * instance arrive by NOTIFY on one LISTEN connection and fan out in memory to the matching subscribers.
 */
@Injectable()
export class StageChangesFeed implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly subscribers = new Audience<StageSubscriber>();
  private readonly notices: NoticeBatches;

  constructor(
    private readonly database: Database,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.notices = new NoticeBatches(database, STAGE_CHANGED_CHANNEL, {
      wanted: () => this.subscribers.size > 0,
      handle: (payloads, interrupted) => this.deliver(payloads, interrupted),
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

  subscribe({ customerId, to }: StageChangeFilter): SubscriberBuffer<StageChange> {
    const subscriber: StageSubscriber = {
      customer: customerId === undefined ? undefined : new FollowedCustomer(customerId),
      to,
      buffer: new SubscriberBuffer(() => this.subscribers.delete(subscriber)),
    };
    this.subscribers.add(subscriber);
    return subscriber.buffer;
  }

  private async deliver(payloads: string[], interrupted: boolean): Promise<void> {
    const subscribers = [...this.subscribers];
    const asOf = this.subscribers.now;
    if (interrupted) {
      // Transitions committed while the connection was down are lost: say so rather than skip them silently.
      for (const subscriber of subscribers) subscriber.buffer.fail(new Unavailable('The stage change feed lost its database connection; subscribe again.'));
      return;
    }
    try {
      const changes = await this.changesOf(payloads);
      const usersOf = await this.linkVisitors(changes);
      for (const change of changes) {
        for (const subscriber of this.subscribers.of(asOf, change.customerId, usersOf.get(change.customerId))) {
          if (subscriber.to === undefined || subscriber.to === change.to) subscriber.buffer.push(change);
        }
      }
    } catch (error) {
      this.logger.error({ err: error }, 'stage changes could not be delivered; their subscriptions end');
      for (const subscriber of subscribers) subscriber.buffer.fail(error);
    }
  }

  /**
   * The users that the anonymous visitors in play are merged into: a visitor's subscribers follow its
   * user from then on, and a visitor's own transitions reach its user's subscribers.
   */
  private async linkVisitors(changes: StageChange[]): Promise<Map<string, string>> {
    if (!this.subscribers.followsAnyone) return new Map();
    const usersOf = await mergedVisitors(this.database, 'journey_states', [...changes.map((change) => change.customerId), ...this.subscribers.awaitingLink()]);
    for (const [visitor, user] of usersOf) this.subscribers.link(visitor, user);
    return usersOf;
  }

  /** The transitions of a batch in order; those announced by reference (too large for NOTIFY) read back by id. */
  private async changesOf(payloads: string[]): Promise<StageChange[]> {
    const notices = payloads.map((payload) => {
      const notice = readStageChangedNotice(payload);
      if (!notice) this.logger.warn({ channel: STAGE_CHANGED_CHANNEL }, 'ignored a stage change notice that is not one');
      return notice;
    });
    const references = notices.flatMap((notice) => (notice && 'reference' in notice ? [notice.reference] : []));
    const fetched = await this.readTransitions(references);
    return notices.flatMap((notice) => {
      if (!notice) return [];
      if ('change' in notice) return [notice.change];
      const change = fetched.get(keyOf(notice.reference));
      return change ? [change] : [];
    });
  }

  private async readTransitions(references: StageChangeReference[]): Promise<Map<string, StageChange>> {
    if (references.length === 0) return new Map();
    // Committed in the transaction that sent the notice: it is there when the notice arrives.
    const { rows } = await this.database.query<{ customer_id: string; event_id: string; from_stage: JourneyStage | null; to_stage: JourneyStage; at: Date; event_type: string }>(
      `SELECT t.customer_id, t.event_id, t.from_stage, t.to_stage, t.at, t.event_type
       FROM journey_transitions t JOIN unnest($1::text[], $2::uuid[]) AS ref(customer_id, event_id) USING (customer_id, event_id)`,
      [references.map((reference) => reference.customerId), references.map((reference) => reference.eventId)],
    );
    return new Map(
      rows.map((row): [string, StageChange] => [
        keyOf({ customerId: row.customer_id, eventId: row.event_id }),
        { customerId: row.customer_id, eventId: row.event_id, from: row.from_stage, to: row.to_stage, at: row.at.toISOString(), eventType: row.event_type },
      ]),
    );
  }
}

function keyOf({ customerId, eventId }: StageChangeReference): string {
  return `${customerId}\u0000${eventId.toLowerCase()}`;
}
