import { Inject, Injectable } from '@nestjs/common';
import { v5 as uuidV5 } from 'uuid';
import type { EventCatalog } from '../../domain/catalog/index.js';
import { NotFound } from '../../domain/errors.js';
import { anonymousCustomerId, streamOf } from '../../domain/identity/identity.js';
import { CATALOG } from '../core/core.module.js';
import { Database } from '../database/database.js';
import { CustomersService, type CustomerView } from '../customers/customers.service.js';
import { recordedEvent } from '../customers/customers.resolver.js';
import { EVENT_STORE } from '../event-store/event-store.module.js';
import type { EventStore } from '../event-store/event-store.port.js';
import { IdentityDirectory } from '../ingestion/identity-directory.js';
import { KeyVault } from './key-vault.js';

const FORGOTTEN_NAMESPACE = '3b0f9a8e-5c57-4f2e-8d3b-9e6a1c4d7f20';

/** The rights of the people behind the data: erasure by crypto-shredding, and access by export. */
@Injectable()
export class PrivacyService {
  constructor(
    private readonly database: Database,
    private readonly customers: CustomersService,
    private readonly keys: KeyVault,
    private readonly identities: IdentityDirectory,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CATALOG) private readonly catalog: EventCatalog,
  ) {}

  /**
   * Forgets a customer and the anonymous visitors folded into them: their data keys are destroyed
   * (their events stay in the log, their personal data is unreadable for ever), their anonymous ids
   * stop leading to them, and `Customer Forgotten` tells the projections to drop what they keep.
   * Forgetting twice changes nothing and answers the first time.
   */
  async forget(customerId: string): Promise<{ customerId: string; forgottenAt: Date }> {
    const customer = await this.customers.customer(customerId);
    const id = customer?.id ?? customerId;
    const known = customer ?? (await this.existsInLog(id));
    if (!known) throw new NotFound(`There is no customer ${customerId}.`);
    const everyone = [id, ...(await this.foldedVisitors(id, customer))];

    await this.keys.destroy(everyone);
    await this.identities.forget(id);
    const requestedAt = new Date().toISOString();
    const results = await this.store.appendMany(
      everyone.map((customer) => ({
        stream: streamOf(customer),
        expectedRevision: 'any' as const,
        events: [
          {
            id: uuidV5(`forgotten\u0000${customer}`, FORGOTTEN_NAMESPACE),
            type: 'Customer Forgotten',
            data: { properties: { requested_at: requestedAt }, traits: {}, context: {} },
            metadata: { occurredAt: requestedAt, schemaVersion: this.catalog.get('Customer Forgotten')?.version ?? 0, source: 'trailmap' },
          },
        ],
      })),
    );
    const own = results[0]!.events[0]!;
    const [stored] = await this.store.readEvents([{ stream: streamOf(id), revision: own.revision }]);
    return { customerId: id, forgottenAt: new Date(stored?.metadata.occurredAt ?? requestedAt) };
  }

  /** Everything Trailmap holds on a customer, personal data opened: for an access request. */
  async export(customerId: string, onEvent?: (event: ReturnType<typeof recordedEvent>) => void) {
    const customer = await this.customers.customer(customerId);
    if (!customer) throw new NotFound(`There is no customer ${customerId}.`);
    const [stageHistory] = await this.customers.stageHistories([customer.id]);
    const events: ReturnType<typeof recordedEvent>[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.customers.timeline(customer.id, 500, after, true);
      for (const { node } of page.edges) {
        const event = recordedEvent(node);
        if (onEvent) onEvent(event);
        else events.push(event);
      }
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor!;
    }
    const { profile } = customer;
    return {
      exportedAt: new Date().toISOString(),
      customer: {
        id: customer.id,
        identities: profile.identities,
        email: profile.email,
        name: profile.name,
        phone: profile.phone,
        traits: profile.traits,
        stage: customer.stage,
        stageEnteredAt: customer.stageEnteredAt,
        stageHistory,
        firstSeenAt: profile.firstSeenAt,
        lastSeenAt: profile.lastSeenAt,
        channels: profile.channels,
        metrics: profile.metrics,
        forgotten: profile.forgotten,
      },
      ...(onEvent ? {} : { events }),
    };
  }

  private async foldedVisitors(customerId: string, customer: CustomerView | null): Promise<string[]> {
    const { rows } = await this.database.query<{ customer_id: string }>('SELECT customer_id FROM customer_profiles WHERE merged_into = $1', [customerId]);
    const linked = (customer?.profile.identities ?? []).filter((identity) => identity.kind === 'ANONYMOUS_ID').map((identity) => anonymousCustomerId(identity.value));
    return [...new Set([...rows.map((row) => row.customer_id), ...linked])].filter((visitor) => visitor !== customerId);
  }

  private async existsInLog(customerId: string): Promise<boolean> {
    for await (const _ of this.store.readStream(streamOf(customerId), { limit: 1 })) return true;
    return false;
  }
}
