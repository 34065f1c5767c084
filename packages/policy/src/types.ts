/**
 * Types of the Meridian policy engine. Every duration and timestamp is in
 * milliseconds and says so in its name (`…Ms`, `…AtMs`); every timestamp is an
 * input time on the caller's own monotonic clock (e.g. `performance.now()`),
 * never a wall clock compared across machines.
 */

/** Document-level mode, from best to worst. */
export type DocumentMode = 'healthy' | 'degraded' | 'read-only' | 'offline'

/** The modes ordered from best to worst (index = badness rank). */
export const DOCUMENT_MODES: readonly DocumentMode[] = ['healthy', 'degraded', 'read-only', 'offline']

/**
 * Stable, machine-readable reason codes. A shed capability names at least one; a
 * mode other than `healthy` names at least one. Apps branch on these codes; new
 * codes may be added in a minor version, existing ones never change meaning.
 */
export type ShedReason =
  /** No relay connection (`connected: false`). */
  | 'offline'
  /** The relay reported the document read-only (`relayReadOnly: true`). */
  | 'relay-read-only'
  /** The document's home region is known to be unreachable (`homeRegionReachable: false`). */
  | 'home-region-unreachable'
  /** No sync round has ever completed (`lastSyncAtMs: null`): staleness is unbounded. */
  | 'never-synced'
  /** The staleness bound exceeds the allowed maximum, or is unbounded (a region never exchanged). */
  | 'stale'
  /** More unacknowledged local updates than allowed. */
  | 'too-many-pending'
  /** More unacknowledged local bytes than allowed. */
  | 'too-many-pending-bytes'
  /** The oldest unacknowledged local update is older than allowed. */
  | 'pending-too-old'
  /** Home-region reachability is unknown (`homeRegionReachable: null`) or the document has no home region. */
  | 'home-region-unknown'
  /** The requirement holds again, but has not yet held for `recoveryHoldMs`. */
  | 'recovering'

/** Every reason code in canonical order (most fundamental first). */
export const SHED_REASONS: readonly ShedReason[] = [
  'offline',
  'relay-read-only',
  'home-region-unreachable',
  'never-synced',
  'stale',
  'too-many-pending',
  'too-many-pending-bytes',
  'pending-too-old',
  'home-region-unknown',
  'recovering'
]

/** What a capability (or the document) can require besides numeric bounds. */
export type RequirementKind = 'home-region' | 'online'

/**
 * What the engine observes. The caller (client SDK or relay) builds this from
 * what it knows at `nowMs`; the engine never reads a clock itself.
 */
export interface PolicySignals {
  /** Input time of this observation (caller's monotonic clock, ms). */
  nowMs: number
  /** True while a relay connection is open (and the hello exchange is done). */
  connected: boolean
  /**
   * Local time the client last completed a sync round with its relay (it then held
   * everything the relay held). `null`: never synced, staleness is unbounded.
   * While connected and streaming, the SDK advances this at every acknowledged round.
   */
  lastSyncAtMs: number | null
  /**
   * The relay's staleness towards each region (`now - s_Q` on the relay's clock), as
   * it reported at `relayReportedAtMs` (or at `lastSyncAtMs` when that is absent).
   * `null` for a region the relay has never completed an exchange with (unbounded).
   * Empty for a single-region deployment. A client reading a relay's STATUS fills
   * in the regions the report omits (`withOmittedRegions`).
   */
  relayStalenessMs: Readonly<Record<string, number | null>>
  /**
   * The relay has other regions configured (STATUS bit 3): an empty
   * `relayStalenessMs` then means "no region vouched for" (unbounded), not "single
   * region". Absent or false: empty means single region.
   */
  relayMeshConfigured?: boolean
  /**
   * Local time the staleness report above was received. When it is earlier than
   * `lastSyncAtMs` the bound is measured from it (the conservative choice). Absent
   * or `null`: the report came with the last completed sync round.
   */
  relayReportedAtMs?: number | null
  /** Local updates not yet acknowledged by the relay (the outbox): the K of the design. */
  pendingUpdates: number
  /** Total size of those updates, in bytes. */
  pendingBytes: number
  /** Age of the oldest unacknowledged update at `nowMs`; `null` when nothing is pending. */
  oldestPendingAgeMs: number | null
  /** Whether the document's home region is reachable from the relay; `null`: unknown / no home region. */
  homeRegionReachable: boolean | null
  /** The relay said the document is read-only (server-enforced, e.g. home region unreachable). */
  relayReadOnly?: boolean
}

/** An app capability and what it needs to stay on. All bounds are inclusive (`value <= max` holds). */
export interface CapabilityRequirement {
  /** Unique name, e.g. `'comments'`. */
  name: string
  /** The document's staleness bound must be at most this (ms). */
  maxStalenessMs?: number
  /** At most this many unacknowledged local updates. */
  maxPendingUpdates?: number
  /** At most this many unacknowledged local bytes. */
  maxPendingBytes?: number
  /** The oldest unacknowledged local update must be at most this old (ms). */
  maxPendingAgeMs?: number
  /** `'online'`: a relay connection; `'home-region'`: a connection and a reachable home region. */
  requires?: RequirementKind | readonly RequirementKind[]
  /**
   * Importance (higher = more important, default 0). Capabilities are judged
   * independently, so which one sheds first is set by their bounds; priority orders
   * the evaluation and the reports (`diffDecisions` lists sheds least important
   * first and recoveries most important first). Ties keep config order.
   */
  priority?: number
}

/** Per-document policy configuration. */
export interface PolicyConfig {
  /** T: the document-level staleness bound (ms). Beyond it the document is `degraded`. */
  maxStalenessMs: number
  /** K: the document-level bound on unacknowledged local updates. Beyond it the document is `degraded`. */
  maxPendingUpdates: number
  /** The document's home region, if it has one (e.g. `'eu'`). */
  homeRegion?: string | null
  /**
   * The document needs its home region for writes: when the home region is known to
   * be unreachable the document is `read-only` (the relay refuses its writes too).
   * Requires `homeRegion`.
   */
  requiresHomeRegionForWrites?: boolean
  /** The app's capabilities; the decision lists them in this order. */
  capabilities: readonly CapabilityRequirement[]
  /**
   * A shed capability (or a degraded / read-only document) comes back only after
   * its requirement has held continuously for this long (ms). Shedding is immediate.
   */
  recoveryHoldMs: number
  /**
   * How far any clock in the deployment (the client's, the relays') may run fast or
   * slow, as a fraction (1e-4 = 100 ppm). Every interval in the staleness bound is
   * stretched by `1 / (1 - maxClockRateError)` so a slow clock never makes it
   * under-report. Offsets between clocks never matter (only intervals are used).
   */
  maxClockRateError?: number
}

/**
 * Defaults: T = 30 000 ms (30 s) of staleness, K = 1 000 pending updates, no home
 * region (so never read-only), no capabilities, a 5 000 ms (5 s) recovery hold,
 * and clocks taken as exact (`maxClockRateError` 0).
 */
export const DEFAULT_POLICY_CONFIG: Readonly<PolicyConfig> = Object.freeze({
  /** 30 s: T, the document staleness bound in ms. */
  maxStalenessMs: 30_000,
  /** 1 000 updates: K, the document bound on the outbox. */
  maxPendingUpdates: 1_000,
  /** No home region. */
  homeRegion: null,
  /** Writes never need the home region. */
  requiresHomeRegionForWrites: false,
  /** No app capabilities. */
  capabilities: Object.freeze([]) as readonly CapabilityRequirement[],
  /** 5 s: how long a requirement must hold before what it gates comes back, in ms. */
  recoveryHoldMs: 5_000,
  /** 0: intervals taken as measured (exact arithmetic); the client SDK sets 1e-4 (100 ppm). */
  maxClockRateError: 0
})

/** One capability in a decision. */
export interface CapabilityState {
  name: string
  /** Whether the app may offer it now. */
  on: boolean
  /** The primary reason it is shed (first of `reasons`); `null` when on. */
  reason: ShedReason | null
  /** Every reason it is shed, primary first (canonical order); empty when on. */
  reasons: readonly ShedReason[]
  /** Input time at which `on` last changed (or of the first evaluation). */
  sinceMs: number
  /** While `recovering`: the input time it comes back if its requirement keeps holding; else `null`. */
  recoverAtMs: number | null
  /** The capability's configured priority (default 0). */
  priority: number
}

/** The engine's output for one observation. */
export interface PolicyDecision {
  /** The `nowMs` this decision was made at. */
  evaluatedAtMs: number
  mode: DocumentMode
  /** False only in `read-only` (offline writes are queued durably, so they are allowed). */
  writable: boolean
  /** Why the mode is not `healthy`: empty iff healthy; `reasons[0]` is why the mode is what it is. */
  reasons: readonly ShedReason[]
  /**
   * Staleness bound (ms) at `evaluatedAtMs`; `null` = unbounded (never synced, or a
   * region never exchanged). It grows with time: `decisionAt(decision, nowMs)` gives it
   * for a later moment (the client SDK's `provider.policy` does this on every read).
   */
  stalenessBoundMs: number | null
  /** Unacknowledged local updates (echo of the signal). */
  pendingUpdates: number
  /** Every configured capability, in config order. */
  capabilities: readonly CapabilityState[]
  /**
   * The earliest input time at which this decision can change if the signals stay
   * the same (a recovery hold ending, a staleness or pending-age bound being
   * crossed), to 1 ms; `null` if none. The engine has no timers: call `update` then.
   */
  recheckAtMs: number | null
}

/** Hysteresis state of one tracked requirement (a capability, the document bounds, writability). */
export interface TrackState {
  /** Whether what it gates is on. */
  on: boolean
  /** Whether it has ever been on: the first acquisition skips the recovery hold. */
  everOn: boolean
  /** While off: input time from which the requirement has held continuously; `null` if it does not hold. */
  holdingSinceMs: number | null
  /** Input time at which `on` last changed. */
  sinceMs: number
}

/** Everything `evaluatePolicy` carries from one step to the next. Plain JSON: persistable. */
export interface PolicyState {
  version: 1
  /** The document-level bounds (T, K, online, home region when required). */
  document: TrackState
  /** Writability (not read-only). Frozen while offline: nothing can be observed then. */
  writable: TrackState
  /** Per capability name. */
  capabilities: Readonly<Record<string, TrackState>>
  /** The previous decision. */
  decision: PolicyDecision
}
