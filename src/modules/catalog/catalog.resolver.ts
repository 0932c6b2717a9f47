import { Inject } from '@nestjs/common';
import { Context, Query, Resolver } from '@nestjs/graphql';
import type { EventCatalog } from '../../domain/catalog/index.js';
import { authorize } from '../auth/authorize.js';
import { CATALOG } from '../core/core.module.js';
import type { RequestContext } from '../graphql/graphql.options.js';

export const catalogTypeDefs = /* GraphQL */ `
  extend type EventType {
    "Bumped whenever the schema or the personal data paths change; stored with each event."
    version: Int!
    "JSON Schema of the traits, for the types that carry them."
    traitsSchema: JSON
  }
`;

@Resolver()
export class CatalogResolver {
  constructor(@Inject(CATALOG) private readonly catalog: EventCatalog) {}

  @Query('eventTypes')
  eventTypes(@Context() context: RequestContext) {
    authorize(context.principal, 'catalog:read');
    return this.catalog.list();
  }
}
