export { alreadyApplied, coversRevisions, unionOfRevisions, withApplied, type AppliedRevisions, type StoredRevisions } from './applied-revisions.js';
export { earlierOf, isAfter, laterOf, millisOf, secondsBetween } from './instants.js';
