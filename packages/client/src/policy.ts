/**
 * `@meridian/client/policy`: the bounded-staleness policy engine for the
 * provider (modes with hysteresis, the staleness bound, the document bounds and
 * the app's capabilities). Pass it with the policy:
 * `new MeridianProvider({ …, policy: { maxStalenessMs: 5_000, capabilities }, policyEngine })`.
 * Without it the provider reports only the connection and the relay's read-only
 * flag (see BasicGuarantees), and keeps the engine out of the bundle.
 */
export { policyEngine, PolicyGuarantees } from './policy-guarantees.js'
export { DEFAULT_CLIENT_CLOCK_RATE_ERROR } from './policy-monitor.js'
export type { UnachievableBound } from './staleness-floor.js'
