import { Args, Context, Info, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { responsePathAsArray, type GraphQLResolveInfo } from 'graphql';
import { notePersonalRead, noteRedaction } from '../privacy/personal-data-reads.js';
import type { CustomerEvent, JourneyStage } from '../../domain/customer-event.js';
import { Forbidden } from '../../domain/errors.js';
import type { IdentityKind } from '../../domain/identity/identity.js';
import { can } from '../auth/api-keys.js';
import { authorize } from '../auth/authorize.js';
import type { RequestContext } from '../graphql/graphql.options.js';
import { loaderOf } from '../graphql/loaders.js';
import { CustomersService, type CustomerPage, type CustomerView, type StageTransitionView } from './customers.service.js';

export const recordedEventTypeDefs = /* GraphQL */ `
  extend type RecordedEvent {
    "Traits the event carried (identify calls); personal ones only for callers allowed to read personal data."
    traits: JSON
  }
`;

const PERSONAL_IDENTITY_KINDS = new Set(['EMAIL', 'PHONE']);

/**
 * Personal fields resolve only for callers allowed to read personal data (the read is logged);
 * others get null and a FORBIDDEN error naming the field.
 */
function personal<T>(context: RequestContext, customer: CustomerView, field: string, value: T): T {
  if (!can(context.principal, 'personal-data:read')) throw new Forbidden(`Customer.${field} is personal data; this API key may not read it.`);
  if (value !== null && value !== undefined) notePersonalRead(context, customer.id, field);
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
  async customerByIdentity(@Args('kind') kind: IdentityKind, @Args('value') value: string, @Context() context: RequestContext) {
    authorize(context.principal, 'customers:read');
    if (!PERSONAL_IDENTITY_KINDS.has(kind)) return this.customers.customerByIdentity(kind, value);
    authorize(context.principal, 'personal-data:read');
    const customer = await this.customers.customerByIdentity(kind, value);
    if (customer) notePersonalRead(context, customer.id, `lookup:${kind}`);
    return customer;
  }

  @Query('customers')
  list(@Args('stage') stage: JourneyStage | undefined, @Args('first') first: number, @Args('after') after: string | undefined, @Context() context: RequestContext) {
    authorize(context.principal, 'customers:read');
    return this.customers.customers(stage ?? undefined, first, after ?? undefined);
  }

  @ResolveField('identities')
  identities(@Parent() customer: CustomerView, @Context() context: RequestContext, @Info() info: GraphQLResolveInfo) {
    const personalKinds = customer.profile.identities.filter((identity) => PERSONAL_IDENTITY_KINDS.has(identity.kind));
    if (personalKinds.length === 0) return customer.profile.identities;
    if (can(context.principal, 'personal-data:read')) {
      notePersonalRead(context, customer.id, 'identities');
      return customer.profile.identities;
    }
    // The list cannot be null: the personal identities are left out, and the response says so.
    noteRedaction(context, responsePathAsArray(info.path), 'Customer.identities: EMAIL and PHONE identities are personal data; this API key may not read them.');
    return customer.profile.identities.filter((identity) => !PERSONAL_IDENTITY_KINDS.has(identity.kind));
  }

  @ResolveField('email')
  email(@Parent() customer: CustomerView, @Context() context: RequestContext) {
    return personal(context, customer, 'email', customer.profile.email);
  }

  @ResolveField('name')
  name(@Parent() customer: CustomerView, @Context() context: RequestContext) {
    return personal(context, customer, 'name', customer.profile.name);
  }

  @ResolveField('phone')
  phone(@Parent() customer: CustomerView, @Context() context: RequestContext) {
    return personal(context, customer, 'phone', customer.profile.phone);
  }

  @ResolveField('traits')
  traits(@Parent() customer: CustomerView, @Context() context: RequestContext) {
    return personal(context, customer, 'traits', customer.profile.traits);
  }

  // No parameter decorators: Nest then calls it as a plain GraphQL resolver (parent, arguments, context), without its per-call pipeline.
  @ResolveField('stageHistory')
  stageHistory(customer: CustomerView, _arguments: unknown, context: RequestContext): Promise<StageTransitionView[]> {
    if (customer.stageHistory) return Promise.resolve(customer.stageHistory);
    return loaderOf(context, 'stageHistory', (ids: readonly string[]) => this.customers.stageHistories(ids)).load(customer.id);
  }

  @ResolveField('timeline')
  async timeline(
    @Parent() customer: CustomerView,
    @Args('first') first: number,
    @Args('after') after: string | undefined,
    @Context() context: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ) {
    const readable = can(context.principal, 'personal-data:read');
    const page = await this.customers.timeline(customer.id, first, after ?? undefined, readable);
    const path = responsePathAsArray(info.path);
    page.edges.forEach(({ node }, index) => {
      if (node.personalDataWithheld) {
        noteRedaction(context, [...path, 'edges', index, 'node', 'properties'], `The ${node.type} event holds personal data; this API key may not read it, so it is left out.`);
      }
    });
    if (readable && page.edges.length > 0) notePersonalRead(context, customer.id, 'timeline');
    return { ...page, edges: page.edges.map(({ cursor, node }) => ({ cursor, node: recordedEvent(node) })) };
  }
}

@Resolver('CustomerConnection')
export class CustomerConnectionResolver {
  constructor(private readonly customers: CustomersService) {}

  /** Counted only when asked for: a client paging through customers does not count them all on every page. */
  @ResolveField('totalCount')
  totalCount(@Parent() page: CustomerPage) {
    return this.customers.customerCount(page.stage);
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
