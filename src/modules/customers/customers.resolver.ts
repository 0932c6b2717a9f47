import { Args, Context, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import type { CustomerEvent, JourneyStage } from '../../domain/customer-event.js';
import { Forbidden } from '../../domain/errors.js';
import type { IdentityKind } from '../../domain/identity/identity.js';
import { can } from '../auth/api-keys.js';
import { authorize } from '../auth/authorize.js';
import type { RequestContext } from '../graphql/graphql.options.js';
import { loaderOf } from '../graphql/loaders.js';
import { CustomersService, type CustomerView, type StageTransitionView } from './customers.service.js';

export const recordedEventTypeDefs = /* GraphQL */ `
  extend type RecordedEvent {
    "Traits the event carried (identify calls); personal ones only for callers allowed to read personal data."
    traits: JSON
  }
`;

const PERSONAL_IDENTITY_KINDS = new Set(['EMAIL', 'PHONE']);

/** Personal fields resolve only for callers allowed to read personal data; others get null and a FORBIDDEN error naming the field. */
function personal<T>(context: RequestContext, field: string, value: T): T {
  if (!can(context.principal, 'personal-data:read')) throw new Forbidden(`Customer.${field} is personal data; this API key may not read it.`);
  return value;
}

@Resolver('Customer')
export class CustomersResolver {
  constructor(private readonly customers: CustomersService) {}

  @Query('customer')
  customer(@Args('id') id: string, @Context() context: RequestContext) {
    authorize(context.principal, 'customers:read');
    return this.customers.customer(id);
  }

  @Query('customerByIdentity')
  customerByIdentity(@Args('kind') kind: IdentityKind, @Args('value') value: string, @Context() context: RequestContext) {
    authorize(context.principal, 'customers:read');
    if (PERSONAL_IDENTITY_KINDS.has(kind)) authorize(context.principal, 'personal-data:read');
    return this.customers.customerByIdentity(kind, value);
  }

  @Query('customers')
  list(@Args('stage') stage: JourneyStage | undefined, @Args('first') first: number, @Args('after') after: string | undefined, @Context() context: RequestContext) {
    authorize(context.principal, 'customers:read');
    return this.customers.customers(stage ?? undefined, first, after ?? undefined);
  }

  @ResolveField('identities')
  identities(@Parent() customer: CustomerView, @Context() context: RequestContext) {
    const readable = can(context.principal, 'personal-data:read');
    return customer.profile.identities.filter((identity) => readable || !PERSONAL_IDENTITY_KINDS.has(identity.kind));
  }

  @ResolveField('email')
  email(@Parent() customer: CustomerView, @Context() context: RequestContext) {
    return personal(context, 'email', customer.profile.email);
  }

  @ResolveField('name')
  name(@Parent() customer: CustomerView, @Context() context: RequestContext) {
    return personal(context, 'name', customer.profile.name);
  }

  @ResolveField('phone')
  phone(@Parent() customer: CustomerView, @Context() context: RequestContext) {
    return personal(context, 'phone', customer.profile.phone);
  }

  @ResolveField('traits')
  traits(@Parent() customer: CustomerView, @Context() context: RequestContext) {
    return personal(context, 'traits', customer.profile.traits);
  }

  @ResolveField('stage')
  stage(@Parent() customer: CustomerView) {
    return customer.stage ?? 'DISCOVERY';
  }

  @ResolveField('stageEnteredAt')
  stageEnteredAt(@Parent() customer: CustomerView) {
    return customer.stageEnteredAt ?? this.firstSeenAt(customer);
  }

  @ResolveField('stageHistory')
  stageHistory(@Parent() customer: CustomerView, @Context() context: RequestContext): Promise<StageTransitionView[]> {
    return loaderOf(context, 'stageHistory', (ids: readonly string[]) => this.customers.stageHistories(ids)).load(customer.id);
  }

  @ResolveField('firstSeenAt')
  firstSeenAt(@Parent() customer: CustomerView) {
    return customer.profile.firstSeenAt ?? customer.profile.lastSeenAt ?? new Date(0).toISOString();
  }

  @ResolveField('lastSeenAt')
  lastSeenAt(@Parent() customer: CustomerView) {
    return customer.profile.lastSeenAt ?? this.firstSeenAt(customer);
  }

  @ResolveField('channels')
  channels(@Parent() customer: CustomerView) {
    return customer.profile.channels;
  }

  @ResolveField('metrics')
  metrics(@Parent() customer: CustomerView) {
    return customer.profile.metrics;
  }

  @ResolveField('version')
  version(@Parent() customer: CustomerView) {
    return customer.profile.version;
  }

  @ResolveField('forgotten')
  forgotten(@Parent() customer: CustomerView) {
    return customer.profile.forgotten;
  }

  @ResolveField('timeline')
  async timeline(@Parent() customer: CustomerView, @Args('first') first: number, @Args('after') after: string | undefined, @Context() context: RequestContext) {
    const page = await this.customers.timeline(customer.id, first, after ?? undefined, can(context.principal, 'personal-data:read'));
    return { ...page, edges: page.edges.map(({ cursor, node }) => ({ cursor, node: recordedEvent(node) })) };
  }
}

export function recordedEvent(event: CustomerEvent) {
  return {
    id: event.id,
    customerId: event.customerId,
    type: event.type,
    category: event.category,
    occurredAt: event.occurredAt,
    recordedAt: event.recordedAt,
    streamPosition: event.revision,
    channel: event.channel ?? null,
    properties: event.properties,
    traits: event.traits,
  };
}
