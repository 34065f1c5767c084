import { resolvePolicyConfig } from './config.js'
import { evaluatePolicy } from './evaluate.js'
import type { PolicyConfig, PolicyDecision, PolicySignals, PolicyState } from './types.js'

/** A stateful wrapper over `evaluatePolicy`: keeps the state between updates. */
export interface PolicyEngine {
  /** The validated, frozen config. */
  readonly config: PolicyConfig
  /** Evaluate new signals (call on every signal change and at `recheckAtMs`); returns the decision. */
  update(signals: PolicySignals): PolicyDecision
  /** The latest decision, `null` before the first `update`. */
  readonly decision: PolicyDecision | null
  /** The latest state (plain JSON; may be persisted and passed back as `initialState`). */
  readonly state: PolicyState | null
}

export interface PolicyEngineOptions {
  /** Resume from a persisted state (e.g. across a page reload), so hysteresis survives it. */
  initialState?: PolicyState | null
}

/**
 * Creates an engine for one document. `config` may be partial: missing fields come
 * from `DEFAULT_POLICY_CONFIG`. Throws `PolicyConfigError` for an invalid config.
 */
export function createPolicyEngine(config: Partial<PolicyConfig>, options: PolicyEngineOptions = {}): PolicyEngine {
  const resolved = resolvePolicyConfig(config)
  let state: PolicyState | null = options.initialState ?? null
  return {
    config: resolved,
    update(signals: PolicySignals): PolicyDecision {
      const next = evaluatePolicy(resolved, signals, state)
      state = next.state
      return next.decision
    },
    get decision() {
      return state?.decision ?? null
    },
    get state() {
      return state
    }
  }
}
