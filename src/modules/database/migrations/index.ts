import type { MigrationInterface } from 'typeorm';
import { EventIdRegistry1764144100000 } from '../../event-store/eventstoredb/event-id-registry.migration.js';
import { EventStore1764144000000 } from '../../event-store/postgres/event-store.migration.js';
import { DropStreamRevisions1764145000000 } from '../../event-store/postgres/drop-streams.migration.js';
import { EventLogAsWritten1764145200000 } from '../../event-store/postgres/event-log-json.migration.js';
import { IdentityLinks1764144300000 } from '../../ingestion/identity-links.migration.js';
import { PersonalDataAccess1764144900000 } from '../../privacy/access-log.migration.js';
import { CustomerKeys1764144200000 } from '../../privacy/privacy.migration.js';
import { Analytics1764144700000 } from '../../../projections/analytics/analytics.migration.js';
import { JourneyStages1764144600000 } from '../../../projections/journey/journey.migration.js';
import { JourneysPseudonymizedByTheJourney1764145500000 } from '../../../projections/journey/journeys-pseudonymized.migration.js';
import { ProfilesMergedIntoIndex1764145100000 } from '../../../projections/profile/merged-into-index.migration.js';
import { ProfileBookkeepingApart1764145400000 } from '../../../projections/profile/profile-bookkeeping.migration.js';
import { CustomerProfiles1764144500000 } from '../../../projections/profile/profile.migration.js';
import { ProjectionCheckpoints1764144400000 } from '../../../projections/runner/checkpoints.migration.js';
import { ProjectionStatesAsWritten1764145300000 } from '../../../projections/states-as-written.migration.js';
import { Timeline1764144800000 } from '../../../projections/timeline/timeline.migration.js';

/** Every schema change, in the order it is applied. */
export const migrations: (new () => MigrationInterface)[] = [
  EventStore1764144000000,
  EventIdRegistry1764144100000,
  CustomerKeys1764144200000,
  IdentityLinks1764144300000,
  ProjectionCheckpoints1764144400000,
  CustomerProfiles1764144500000,
  JourneyStages1764144600000,
  Analytics1764144700000,
  Timeline1764144800000,
  PersonalDataAccess1764144900000,
  DropStreamRevisions1764145000000,
  ProfilesMergedIntoIndex1764145100000,
  EventLogAsWritten1764145200000,
  ProjectionStatesAsWritten1764145300000,
  ProfileBookkeepingApart1764145400000,
  JourneysPseudonymizedByTheJourney1764145500000,
];
