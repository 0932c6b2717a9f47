export {
  contextPiiFields,
  createCatalog,
  eventCategories,
  undescribedCategory,
  type CatalogOptions,
  type EventCatalog,
  type EventCategory,
  type EventTypeDefinition,
  type UncheckedEvent,
} from './event-catalog.js';
export { defaultEventTypes } from './default-catalog.js';
export { InvalidCatalogExtension, parseCatalogExtension } from './catalog-extension.js';
export {
  analyticsProperties,
  mergePersonalData,
  sectionsOf,
  splitPersonalData,
  type EventSection,
  type EventSections,
  type JsonObject,
  type PersonalData,
} from './personal-data.js';
export type { JsonSchema, ValidationProblem } from './json-schema.js';
