import type { Clock, ClockTimer } from '@meridian/policy'
import {
  createPolicyEngine,
  diffDecisions,
  isCapabilityOn,
  type DecisionDiff,
  type PolicyConfig,
  type PolicyDecision,
  type PolicyEngine,
  type PolicySignals
} from '@meridian/policy'

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
    this.engine = createPolicyEngine(options.config)
    this.signals = initial
    this.evaluate()
  }

  get decision(): PolicyDecision {
    return this.engine.decision as PolicyDecision
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
      // +1: re-evaluate just after the boundary, not on it.
      const delay = Math.max(0, decision.recheckAtMs - this.o.clock.now() + 1)
      this.timer = this.o.clock.setTimeout(() => this.evaluate(), delay)
    }
  }
}
