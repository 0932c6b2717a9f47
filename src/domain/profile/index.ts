export {
  assertLinks,
  evolveProfile,
  initialProfile,
  linkedAnonymousId,
  markProfileMerged,
  mergeProfiles,
  profileEventTypes,
  profileReadsSealed,
  type CustomerMetrics,
  type CustomerProfile,
  type SupportTickets,
  type SupportTicketStatus,
} from './customer-profile.js';
export {
  MAX_SESSION_WINDOWS,
  SESSION_GAP_MS,
  mergeSessions,
  noSessions,
  sessionCount,
  withActivity,
  type SessionWindow,
  type Sessions,
} from './sessions.js';
