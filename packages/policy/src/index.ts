export type {
  CapabilityRequirement,
  CapabilityState,
  DocumentMode,
  PolicyConfig,
  PolicyDecision,
  PolicySignals,
  PolicyState,
  RequirementKind,
  ShedReason,
  TrackState
} from './types.js'
export { DEFAULT_POLICY_CONFIG, DOCUMENT_MODES, SHED_REASONS } from './types.js'
export { PolicyConfigError, isPolicyConfigError, resolvePolicyConfig, validatePolicyConfig } from './config.js'
export { computeStalenessBoundMs, decisionAt, intervalStretch, relayStalenessMs, withOmittedRegions, worstRelayStalenessMs } from './staleness.js'
export { evaluatePolicy } from './evaluate.js'
export { createPolicyEngine } from './engine.js'
export type { PolicyEngine, PolicyEngineOptions } from './engine.js'
export { decisionsEqual, diffDecisions, isCapabilityOn } from './diff.js'
export type { DecisionDiff } from './diff.js'
