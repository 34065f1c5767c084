import type { DecisionDiff, DocumentMode, PolicyConfig, PolicyDecision, ShedReason } from '@meridian/policy'
import type { Clock } from '@meridian/base'
import type { StatusFields } from '@meridian/protocol'
import type { MeridianError } from './errors.js'

/** What the guarantees tell the provider. */
export interface GuaranteesOptions {
  policy: Partial<PolicyConfig> | undefined
  clock: Clock
  onPolicy: (decision: PolicyDecision, diff: DecisionDiff) => void
  onConverged: (decision: PolicyDecision) => void
  /** The document turned writable again: send what was held back. */
  onWritable: () => void
  /** A configured bound the relay cannot deliver (ERR_STALENESS_UNACHIEVABLE), once per capability. */
  onWarning: (error: MeridianError) => void
}

/**
 * What the provider can promise: its mode, writability and capabilities, fed
 * from the connection, the relay's reports and the pending writes. Two
 * implementations: `BasicGuarantees` (here, always in the bundle: connection and
 * the relay's read-only flag) and the policy engine's (`policyEngine` from
 * `@meridian/client/policy`: staleness bound, bounds, capabilities, hysteresis).
 */
export interface Guarantees {
  /** The decision as of now. */
  readonly decision: PolicyDecision
  readonly isWritable: boolean
  can(capability: string): boolean
  /** The relay of the current connection said hello from `region` ('' when it has none). */
  relayInfo(region: string): void
  /** The connection's first sync round completed; our step 1 was sent at `syncAtMs`. */
  synced(syncAtMs: number): void
  /** The relay answered a message sent at `syncAtMs` (after the first round). */
  syncPoint(syncAtMs: number): void
  connection(open: boolean): void
  /** A STATUS report (see LinkEvent `status`). */
  status(s: StatusFields, reportAtMs: number, roundDone: boolean): void
  pending(count: number, bytes: number, oldestAtMs: number | null): void
  destroy(): void
}

/** Builds the guarantees of one provider: `policyEngine` from `@meridian/client/policy`. */
export type PolicyEngine = (options: GuaranteesOptions) => Guarantees

/**
 * The guarantees without the policy engine: `offline` while there is no
 * connection, `degraded` (`never-synced`) until its first sync round, `read-only`
 * while the relay says so (writes are then held locally, never sent), else
 * `healthy`. No staleness bound is computed (`stalenessBoundMs` is null: unknown)
 * and no capability is configured (`can` is false for every name).
 */
export class BasicGuarantees implements Guarantees {
  private connected = false
  private roundDone = false
  private readOnly = false
  private pendingUpdates = 0
  /** Not healthy (or pending) since it last converged: `converged` fires once it is healthy with nothing pending. */
  private unconverged = false
  private current: PolicyDecision

  constructor(private readonly o: GuaranteesOptions) {
    this.current = this.evaluate()
  }

  get decision(): PolicyDecision {
    return this.current
  }

  get isWritable(): boolean {
    return this.current.writable
  }

  can(): boolean {
    return false
  }

  relayInfo(): void {}

  synced(): void {
    this.roundDone = true
    this.update()
  }

  syncPoint(): void {}

  connection(open: boolean): void {
    this.connected = open
    if (!open) this.roundDone = false
    this.update()
  }

  status(s: StatusFields): void {
    this.readOnly = s.readOnly
    this.update()
  }

  pending(count: number): void {
    this.pendingUpdates = count
    this.update()
  }

  destroy(): void {}

  private update(): void {
    const before = this.current
    const after = this.evaluate()
    this.current = after
    const modeChanged = before.mode !== after.mode
    const writableChanged = before.writable !== after.writable
    if (modeChanged) {
      this.o.onPolicy(after, {
        changed: true,
        mode: { from: before.mode, to: after.mode },
        writable: writableChanged ? { from: before.writable, to: after.writable } : null,
        reasonsChanged: true,
        turnedOn: [],
        turnedOff: [],
        reasonsChangedFor: [],
        added: [],
        removed: [],
        measurementsChanged: before.pendingUpdates !== after.pendingUpdates
      })
    }
    if (writableChanged && after.writable) this.o.onWritable()
    if (after.mode !== 'healthy') this.unconverged = true
    else if (this.unconverged && after.pendingUpdates === 0) {
      this.unconverged = false
      this.o.onConverged(after)
    }
  }

  private evaluate(): PolicyDecision {
    // Offline writes are stored and queued, so only the relay's read-only flag makes the document read-only.
    const [mode, reasons]: [DocumentMode, ShedReason[]] = !this.connected
      ? ['offline', ['offline']]
      : this.readOnly
        ? ['read-only', ['relay-read-only']]
        : !this.roundDone ? ['degraded', ['never-synced']] : ['healthy', []]
    return {
      evaluatedAtMs: this.o.clock.now(),
      mode,
      writable: mode !== 'read-only',
      reasons,
      stalenessBoundMs: null,
      pendingUpdates: this.pendingUpdates,
      capabilities: [],
      recheckAtMs: null
    }
  }
}
