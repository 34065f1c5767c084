import type { Clock, ClockTimer } from '@meridian/base'
import {
  createPolicyEngine,
  decisionAt,
  diffDecisions,
  isCapabilityOn,
  type DecisionDiff,
  type PolicyConfig,
  type PolicyDecision,
  type PolicyEngine,
  type PolicySignals
} from '@meridian/policy'

/**
 * The SDK's default `maxClockRateError`: 100 ppm, what ordinary quartz clocks stay
 * within, so a slow clock (the client's or a relay's) never shortens the bound.
 */
export const DEFAULT_CLIENT_CLOCK_RATE_ERROR = 1e-4

/** What the provider observes, fed to the engine on every change. */
export type ObservedSignals = Omit<PolicySignals, 'nowMs'>

export interface PolicyMonitorOptions {
  config: Partial<PolicyConfig>
  clock: Clock
  onChange: (decision: PolicyDecision, diff: DecisionDiff) => void
  /** Back to healthy with nothing pending, after having been anything else. */
  onConverged: (decision: PolicyDecision) => void
}

/**
 * Runs the pure policy engine continuously: on every signal change, and at the
 * time the engine says its decision could change by itself (a hold ending, a
 * staleness bound being crossed) — the engine has no timers of its own.
 */
export class PolicyMonitor {
  private readonly engine: PolicyEngine
  private readonly o: PolicyMonitorOptions
  private signals: ObservedSignals
  private timer: ClockTimer | null = null
  private degradedSinceHealthy = false
  private destroyed = false

  constructor(options: PolicyMonitorOptions, initial: ObservedSignals) {
    this.o = options
    this.engine = createPolicyEngine({ ...options.config, maxClockRateError: options.config.maxClockRateError ?? DEFAULT_CLIENT_CLOCK_RATE_ERROR })
    this.signals = initial
    this.evaluate()
  }

  /**
   * The decision as of now: re-evaluated first if a threshold was crossed since the
   * last evaluation (a timer may run late), and with the staleness bound grown to
   * this moment — it keeps growing while offline.
   */
  get decision(): PolicyDecision {
    const now = this.o.clock.now()
    const last = this.engine.decision as PolicyDecision
    if (!this.destroyed && last.recheckAtMs !== null && now >= last.recheckAtMs) this.evaluate()
    return decisionAt(this.engine.decision as PolicyDecision, now, this.engine.config.maxClockRateError)
  }

  can(capability: string): boolean {
    return isCapabilityOn(this.decision, capability)
  }

  update(patch: Partial<ObservedSignals>): void {
    this.signals = { ...this.signals, ...patch }
    this.evaluate()
  }

  destroy(): void {
    this.destroyed = true
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer)
    this.timer = null
  }

  private evaluate(): void {
    if (this.destroyed) return
    const before = this.engine.decision
    const decision = this.engine.update({ ...this.signals, nowMs: this.o.clock.now() })
    const diff = diffDecisions(before, decision)
    if (diff.changed) this.o.onChange(decision, diff)
    if (decision.mode !== 'healthy') this.degradedSinceHealthy = true
    else if (this.degradedSinceHealthy && decision.pendingUpdates === 0) {
      this.degradedSinceHealthy = false
      this.o.onConverged(decision)
    }
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer)
    this.timer = null
    if (decision.recheckAtMs !== null) {
      // recheckAtMs is already the first ms past the boundary (a crossing, a hold ending).
      const delay = Math.max(0, decision.recheckAtMs - this.o.clock.now())
      this.timer = this.o.clock.setTimeout(() => this.evaluate(), delay)
    }
  }
}
