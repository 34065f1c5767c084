import type { Logger } from 'pino'
import type { Clock, ClockTimer } from '@meridian/base'
import { FEATURE_REPLICATION, FEATURE_STATUS, type StatusFields } from '@meridian/protocol'
import { DocumentModes, type DocumentPolicy } from './doc-modes.js'
import type { Mesh } from './mesh/mesh.js'
import type { RelayMetrics } from './metrics.js'

/** What a connection needs to report guarantees to its client. */
export interface GuaranteedConnection {
  readonly docName: string
  /** Sends a status report, if the client agreed FEATURE_STATUS. */
  sendStatus(): void
  /** Other regions committed more of this connection's writes. */
  replicationProgress(): void
}

export interface RelayGuaranteesOptions {
  clock: Clock
  policies: readonly DocumentPolicy[]
  region: string
  mesh: Mesh | null
  /** Every connection gets a status report at least this often: each one is a sync point for the client's staleness bound. */
  statusIntervalMs: number
  /** A read-only document turns writable only after its home region stayed reachable this long. */
  readOnlyRecoveryHoldMs: number
  logger: Logger
  metrics: RelayMetrics
}

/**
 * The relay's side of the bounded-staleness contract: which documents are
 * read-only (home region unreachable, decided by the same policy engine the
 * clients run), what staleness the relay can promise towards each region, and
 * how many regions hold each connection's writes. Connections attach here and
 * are told when any of it changes, and at least every `statusIntervalMs`.
 */
export class RelayGuarantees {
  readonly modes: DocumentModes
  private readonly o: RelayGuaranteesOptions
  private readonly byDoc = new Map<string, Set<GuaranteedConnection>>()
  private readonly timer: ClockTimer
  private readonly unsubscribe: (() => void) | null

  constructor(options: RelayGuaranteesOptions) {
    this.o = options
    const mesh = options.mesh
    this.modes = new DocumentModes({
      policies: options.policies,
      region: options.region,
      isRegionReachable: (region) => mesh?.status().regions[region]?.reachable === true,
      recoveryHoldMs: options.readOnlyRecoveryHoldMs,
      logger: options.logger,
      onTransition: (_doc, from, to) => options.metrics.modeTransitions.inc({ from, to })
    })
    this.unsubscribe = mesh?.tracking.onConfirm((docName) => {
      for (const c of this.byDoc.get(docName) ?? []) c.replicationProgress()
    }) ?? null
    this.timer = options.clock.setInterval(() => this.tick(), options.statusIntervalMs)
  }

  /** Feature bits this relay can serve (masked with the client's in HELLO). */
  get features(): number {
    return FEATURE_STATUS | (this.o.mesh !== null ? FEATURE_REPLICATION : 0)
  }

  isReadOnly(docName: string): boolean {
    return this.modes.get(docName, this.o.clock.now()).readOnly
  }

  status(docName: string): StatusFields {
    const mode = this.modes.get(docName, this.o.clock.now())
    const regions: Record<string, number | null> = {}
    for (const [region, s] of Object.entries(this.o.mesh?.status().regions ?? {})) regions[region] = s.stalenessMs === null ? null : Math.max(0, Math.round(s.stalenessMs))
    return { readOnly: mode.readOnly, homeRegion: mode.homeRegion, homeRegionReachable: mode.homeRegionReachable, regions, meshConfigured: this.o.mesh !== null }
  }

  /** For a tracked write: how many other regions hold it, out of how many. Untracked: all of them. */
  heldBy(trackedSeq: number): { held: number; total: number } {
    const tracked = this.o.mesh?.tracking.heldBy(trackedSeq)
    if (tracked != null) return tracked
    const total = this.o.mesh?.otherRegions.length ?? 0
    return { held: total, total }
  }

  attach(c: GuaranteedConnection): void {
    let set = this.byDoc.get(c.docName)
    if (set === undefined) this.byDoc.set(c.docName, (set = new Set()))
    set.add(c)
  }

  detach(c: GuaranteedConnection): void {
    const set = this.byDoc.get(c.docName)
    set?.delete(c)
    if (set?.size === 0) {
      this.byDoc.delete(c.docName)
      this.modes.forget(c.docName)
    }
  }

  close(): void {
    this.o.clock.clearInterval(this.timer)
    this.unsubscribe?.()
  }

  private tick(): void {
    const now = this.o.clock.now()
    this.modes.tick(now)
    for (const [region, s] of Object.entries(this.o.mesh?.status().regions ?? {})) {
      if (s.stalenessMs !== null) this.o.metrics.replicationLagSeconds.set({ region }, s.stalenessMs / 1000)
    }
    for (const set of this.byDoc.values()) for (const c of set) c.sendStatus()
  }
}
