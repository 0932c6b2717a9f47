export {
  cartAbandonmentProperties,
  dormancyProperties,
  dueForCartAbandonment,
  dueForDormancy,
  evolveJourney,
  markJourneyMerged,
  mergeJourneys,
  openCartSince,
  type CartState,
  type JourneyState,
  type JourneyStep,
  type StageTransition,
} from './journey.js';
export { isActivity, lifecycle, stageRank, stageRules, type LifecycleStage } from './stage-rules.js';
