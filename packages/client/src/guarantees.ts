import type { Clock, DecisionDiff, PolicyConfig, PolicyDecision } from '@meridian/policy'
import type { StatusFields } from '@meridian/protocol'
import { DurabilityTracker, type DurabilityLevel } from './durability.js'
import { PolicyMonitor } from './policy-monitor.js'

export interface GuaranteesOptions {
  policy: Partial<PolicyConfig> | undefined
  clock: Clock
  onPolicy: (decision: PolicyDecision, diff: DecisionDiff) => void
  onConverged: (decision: PolicyDecision) => void
  /** The document turned writable again: send what was held back. */
  onWritable: () => void
}

/**
 * What the provider can promise, in one place: the policy decision (mode,
 * capabilities, staleness bound) fed from the connection, the relay's status
 * reports and the outbox; and the durability level of every local write.
 */
export class Guarantees {
  readonly durability: DurabilityTracker
  private readonly monitor: PolicyMonitor
  private readonly o: GuaranteesOptions
  private connected = false
  private writable = true

  constructor(options: GuaranteesOptions) {
    this.o = options
    this.durability = new DurabilityTracker(options.clock)
    this.monitor = new PolicyMonitor({
      config: options.policy ?? {},
      clock: options.clock,
      onChange: (decision, diff) => {
        options.onPolicy(decision, diff)
        const wasWritable = this.writable
        this.writable = decision.writable
        if (!wasWritable && decision.writable) options.onWritable()
      },
      onConverged: options.onConverged
    }, {
      connected: false,
      lastSyncAtMs: null,
      relayStalenessMs: {},
      relayReportedAtMs: null,
      pendingUpdates: 0,
      pendingBytes: 0,
      oldestPendingAgeMs: null,
      homeRegionReachable: null,
      relayReadOnly: false
    })
    this.writable = this.monitor.decision.writable
  }

  get decision(): PolicyDecision {
    return this.monitor.decision
  }

  get isWritable(): boolean {
    return this.monitor.decision.writable
  }

  can(capability: string): boolean {
    return this.monitor.can(capability)
  }

  /** A sync round completed (the relay's step 2, or a status report on a live connection). */
  synced(): void {
    this.monitor.update({ connected: true, lastSyncAtMs: this.o.clock.now() })
  }

  connection(open: boolean): void {
    if (open === this.connected) return
    this.connected = open
    this.monitor.update({ connected: open })
  }

  status(s: StatusFields): void {
    const now = this.o.clock.now()
    // Everything the relay sent before this report has arrived (one ordered socket): a sync point.
    this.monitor.update({
      connected: true,
      lastSyncAtMs: now,
      relayReportedAtMs: now,
      relayStalenessMs: s.regions,
      homeRegionReachable: s.homeRegionReachable,
      relayReadOnly: s.readOnly
    })
  }

  pending(count: number, bytes: number, oldestAtMs: number | null): void {
    this.monitor.update({ pendingUpdates: count, pendingBytes: bytes, oldestPendingAgeMs: oldestAtMs === null ? null : this.o.clock.now() - oldestAtMs })
  }

  whenDurable(target: Uint8Array | 'all', level: DurabilityLevel, timeoutMs?: number): Promise<void> {
    return this.durability.whenDurable(target, level, timeoutMs)
  }

  destroy(): void {
    this.monitor.destroy()
    this.durability.destroy()
  }
}
