import { Args, Context, Mutation, Query, Resolver } from '@nestjs/graphql';
import { authorize } from '../auth/authorize.js';
import type { RequestContext } from '../graphql/graphql.options.js';
import { AccessLog } from './access-log.js';
import { PrivacyService } from './privacy.service.js';

export const privacyTypeDefs = /* GraphQL */ `
  "A read of a customer's personal data: who (an API key id, never the key), when, which fields. It holds no personal data."
  type PersonalDataAccess {
    at: DateTime!
    keyId: String!
    customerId: ID!
    fields: [String!]!
    operation: String!
  }

  extend type Query {
    "Everything held on a customer, personal data opened, as JSON: for an access request."
    customerExport(id: ID!): JSON
    "The latest reads of a customer's personal data."
    personalDataAccess(customerId: ID!, first: Int = 50): [PersonalDataAccess!]!
  }
`;

@Resolver()
export class PrivacyResolver {
  constructor(
    private readonly privacy: PrivacyService,
    private readonly accessLog: AccessLog,
  ) {}

  @Mutation('forgetCustomer')
  forgetCustomer(@Args('id') id: string, @Context() context: RequestContext) {
    authorize(context.principal, 'customers:forget');
    return this.privacy.forget(id);
  }

  @Query('customerExport')
  async customerExport(@Args('id') id: string, @Context() context: RequestContext) {
    const principal = authorize(context.principal, 'customers:read');
    authorize(principal, 'personal-data:read');
    const exported = await this.privacy.export(id);
    await this.accessLog.record([{ keyId: principal.keyId, customerId: exported.customer.id, fields: ['export'], operation: 'customerExport' }]);
    return exported;
  }

  @Query('personalDataAccess')
  personalDataAccess(@Args('customerId') customerId: string, @Args('first') first: number, @Context() context: RequestContext) {
    authorize(context.principal, 'access-log:read');
    return this.accessLog.reads(customerId, Math.min(Math.max(first, 0), 500));
  }
}
