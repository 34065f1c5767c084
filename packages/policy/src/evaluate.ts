import { computeStalenessBoundMs, intervalStretch, stalenessReferenceAtMs, worstRelayStalenessMs } from './staleness.js'
import { SHED_REASONS } from './types.js'
import type {
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

/** A requirement in normalised form (a capability's, or the document's own). */
export interface NormalizedRequirement {
  maxStalenessMs?: number | undefined
  maxPendingUpdates?: number | undefined
  maxPendingBytes?: number | undefined
  maxPendingAgeMs?: number | undefined
  online: boolean
  homeRegion: boolean
}

/** What every requirement is checked against at one input time. */
interface Observation {
  signals: PolicySignals
  homeRegion: string | null
  stalenessBoundMs: number | null
  referenceAtMs: number | null
  worstRelayStalenessMs: number | null
  /** Intervals are multiplied by this (clock rate error). */
  stretch: number
}

function requiresKinds(requires: CapabilityRequirement['requires']): readonly RequirementKind[] {
  if (requires === undefined) return []
  return typeof requires === 'string' ? [requires] : requires
}

export function capabilityRequirement(cap: CapabilityRequirement): NormalizedRequirement {
  const kinds = requiresKinds(cap.requires)
  return {
    maxStalenessMs: cap.maxStalenessMs,
    maxPendingUpdates: cap.maxPendingUpdates,
    maxPendingBytes: cap.maxPendingBytes,
    maxPendingAgeMs: cap.maxPendingAgeMs,
    online: kinds.includes('online'),
    homeRegion: kinds.includes('home-region')
  }
}

/** The document's own requirement: T, K, a relay connection, and the home region if writes need it. */
export function documentRequirement(config: PolicyConfig): NormalizedRequirement {
  return {
    maxStalenessMs: config.maxStalenessMs,
    maxPendingUpdates: config.maxPendingUpdates,
    online: true,
    homeRegion: config.requiresHomeRegionForWrites === true
  }
}

function canonical(reasons: Iterable<ShedReason>): ShedReason[] {
  const set = new Set(reasons)
  return SHED_REASONS.filter((reason) => set.has(reason))
}

/**
 * Every reason the requirement fails, in canonical order; empty when it holds.
 * Comparisons are written `!(value <= max)` so that a NaN signal fails closed.
 */
function failingReasons(req: NormalizedRequirement, obs: Observation): ShedReason[] {
  const s = obs.signals
  const out: ShedReason[] = []
  if ((req.online || req.homeRegion) && !s.connected) out.push('offline')
  if (req.homeRegion && s.connected) {
    if (s.relayReadOnly === true) out.push('relay-read-only')
    if (obs.homeRegion === null) out.push('home-region-unknown')
    else if (s.homeRegionReachable === false) out.push('home-region-unreachable')
    else if (s.homeRegionReachable !== true) out.push('home-region-unknown')
  }
  if (req.maxStalenessMs !== undefined) {
    if (obs.stalenessBoundMs === null) out.push(s.lastSyncAtMs === null ? 'never-synced' : 'stale')
    else if (!(obs.stalenessBoundMs <= req.maxStalenessMs)) out.push('stale')
  }
  if (req.maxPendingUpdates !== undefined && !(s.pendingUpdates <= req.maxPendingUpdates)) out.push('too-many-pending')
  if (req.maxPendingBytes !== undefined && !(s.pendingBytes <= req.maxPendingBytes)) out.push('too-many-pending-bytes')
  if (req.maxPendingAgeMs !== undefined && s.oldestPendingAgeMs !== null && !(s.oldestPendingAgeMs <= req.maxPendingAgeMs)) {
    out.push('pending-too-old')
  }
  return canonical(out)
}

/** First whole ms strictly after `crossingAtMs`, or null if not representable. */
function after(crossingAtMs: number): number | null {
  const t = Math.floor(crossingAtMs) + 1
  return Number.isFinite(t) ? t : null
}

/**
 * Input times at which a bound of `req` that holds now stops holding if the signals
 * stay the same: staleness and pending age grow with time; nothing else does.
 */
function deadlines(req: NormalizedRequirement, obs: Observation): number[] {
  const out: number[] = []
  const now = obs.signals.nowMs
  const { stalenessBoundMs, referenceAtMs, worstRelayStalenessMs: worst } = obs
  if (req.maxStalenessMs !== undefined && stalenessBoundMs !== null && referenceAtMs !== null && worst !== null) {
    if (stalenessBoundMs <= req.maxStalenessMs) {
      // ((t - reference) + worst) * stretch > max  <=>  t > reference + max / stretch - worst
      const t = after(referenceAtMs + req.maxStalenessMs / obs.stretch - Math.max(0, worst))
      if (t !== null && t > now) out.push(t)
    }
  }
  const age = obs.signals.oldestPendingAgeMs
  if (req.maxPendingAgeMs !== undefined && age !== null && age <= req.maxPendingAgeMs) {
    const t = after(now + req.maxPendingAgeMs - age)
    if (t !== null && t > now) out.push(t)
  }
  return out
}

function observe(config: PolicyConfig, signals: PolicySignals): Observation {
  return {
    signals,
    homeRegion: config.homeRegion ?? null,
    stalenessBoundMs: computeStalenessBoundMs(signals, config.maxClockRateError),
    referenceAtMs: stalenessReferenceAtMs(signals),
    worstRelayStalenessMs: worstRelayStalenessMs(signals.relayStalenessMs, signals.relayMeshConfigured === true),
    stretch: intervalStretch(config.maxClockRateError)
  }
}

interface Step {
  track: TrackState
  reasons: ShedReason[]
  recoverAtMs: number | null
}

function turnedOn(nowMs: number): Step {
  return { track: { on: true, everOn: true, holdingSinceMs: null, sinceMs: nowMs }, reasons: [], recoverAtMs: null }
}

/**
 * One hysteresis step. `failing`: the reasons the requirement fails now (empty:
 * it holds); `null`: it cannot be observed now (the hold restarts, nothing else
 * changes). Shedding is immediate; coming back needs the requirement to have held
 * at every observation for `holdMs`, except the very first time (nothing to recover from).
 */
function stepTrack(prev: TrackState | undefined, failing: readonly ShedReason[] | null, nowMs: number, holdMs: number): Step {
  if (failing === null) {
    const track: TrackState = prev === undefined
      ? { on: true, everOn: false, holdingSinceMs: null, sinceMs: nowMs }
      : { ...prev, holdingSinceMs: null }
    return { track, reasons: [], recoverAtMs: null }
  }
  if (failing.length > 0) {
    const sinceMs = prev !== undefined && !prev.on ? prev.sinceMs : nowMs
    return { track: { on: false, everOn: prev?.everOn ?? false, holdingSinceMs: null, sinceMs }, reasons: [...failing], recoverAtMs: null }
  }
  if (prev === undefined || !prev.everOn) return turnedOn(nowMs)
  if (prev.on) return { track: { on: true, everOn: true, holdingSinceMs: null, sinceMs: prev.sinceMs }, reasons: [], recoverAtMs: null }
  // Time is expected to be monotonic; if it went backwards, the hold restarts.
  const holdingSinceMs = prev.holdingSinceMs !== null && prev.holdingSinceMs <= nowMs ? prev.holdingSinceMs : nowMs
  if (nowMs - holdingSinceMs >= holdMs) return turnedOn(nowMs)
  return {
    track: { on: false, everOn: true, holdingSinceMs, sinceMs: prev.sinceMs },
    reasons: ['recovering'],
    recoverAtMs: holdingSinceMs + holdMs
  }
}

function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined
}

/**
 * Reasons the writes are refused (read-only), observable only while connected: the
 * relay said so, or the document needs its home region and it is known unreachable.
 */
function readOnlyReasons(config: PolicyConfig, signals: PolicySignals): ShedReason[] | null {
  if (!signals.connected) return null
  const out: ShedReason[] = []
  if (signals.relayReadOnly === true) out.push('relay-read-only')
  if (config.requiresHomeRegionForWrites === true && signals.homeRegionReachable === false) out.push('home-region-unreachable')
  return out
}

/**
 * The pure step of the policy engine: signals (and the previous state) in, a
 * decision and the next state out. Deterministic: equal inputs give deep-equal
 * outputs; no clock, no randomness, no I/O. `config` is assumed valid (see
 * `validatePolicyConfig`); `previous` is `null` on the first call. Call it whenever
 * a signal changes, and again at `decision.recheckAtMs`.
 *
 * Modes, by precedence: `offline` (not connected) > `read-only` (connected, and
 * the relay reports the document read-only or it needs its unreachable home region,
 * or that ended less than `recoveryHoldMs` ago) > `degraded` (the document bounds T
 * / K / connection / required home region fail or recover, or a capability is shed)
 * > `healthy`.
 */
export function evaluatePolicy(
  config: PolicyConfig,
  signals: PolicySignals,
  previous: PolicyState | null
): { decision: PolicyDecision; state: PolicyState } {
  const nowMs = signals.nowMs
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
    throw new RangeError(`policy signals.nowMs must be a finite number (got ${String(nowMs)})`)
  }
  // A persisted state of another format is not trusted: start afresh.
  if (previous !== null && previous.version !== 1) previous = null
  const holdMs = config.recoveryHoldMs
  const obs = observe(config, signals)
  const recheck: number[] = []

  // The document's own bounds.
  const docReq = documentRequirement(config)
  const doc = stepTrack(previous?.document, failingReasons(docReq, obs), nowMs, holdMs)
  recheck.push(...deadlines(docReq, obs))
  if (doc.recoverAtMs !== null) recheck.push(doc.recoverAtMs)

  // Writability (frozen while offline).
  const writable = stepTrack(previous?.writable, readOnlyReasons(config, signals), nowMs, holdMs)
  if (writable.recoverAtMs !== null) recheck.push(writable.recoverAtMs)

  // Capabilities: evaluated most important first (stable), reported in config order.
  const caps = config.capabilities
  const order = caps.map((_, i) => i).sort((a, b) => (caps[b]?.priority ?? 0) - (caps[a]?.priority ?? 0) || a - b)
  const capStates: CapabilityState[] = new Array<CapabilityState>(caps.length)
  const capTracks: [string, TrackState][] = []
  for (const i of order) {
    const cap = caps[i]
    if (cap === undefined) continue
    const req = capabilityRequirement(cap)
    const step = stepTrack(own(previous?.capabilities, cap.name), failingReasons(req, obs), nowMs, holdMs)
    recheck.push(...deadlines(req, obs))
    if (step.recoverAtMs !== null) recheck.push(step.recoverAtMs)
    capTracks.push([cap.name, step.track])
    capStates[i] = {
      name: cap.name,
      on: step.track.on,
      reason: step.reasons[0] ?? null,
      reasons: step.reasons,
      sinceMs: step.track.sinceMs,
      recoverAtMs: step.recoverAtMs,
      priority: cap.priority ?? 0
    }
  }
  capTracks.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

  // Mode, by precedence; reasons[0] explains the mode.
  const anyShed = capStates.some((cap) => !cap.on)
  let mode: DocumentMode
  let primary: ShedReason[]
  if (!signals.connected) {
    mode = 'offline'
    primary = ['offline']
  } else if (!writable.track.on) {
    mode = 'read-only'
    primary = writable.reasons
  } else if (!doc.track.on || anyShed) {
    mode = 'degraded'
    primary = doc.reasons
  } else {
    mode = 'healthy'
    primary = []
  }
  const all: ShedReason[] = [...doc.reasons, ...writable.reasons]
  for (const cap of capStates) all.push(...cap.reasons)
  const reasons = [...new Set([...primary, ...canonical(all)])]

  const future = recheck.filter((t) => t > nowMs)
  const decision: PolicyDecision = {
    evaluatedAtMs: nowMs,
    mode,
    writable: mode !== 'read-only',
    reasons,
    stalenessBoundMs: obs.stalenessBoundMs,
    pendingUpdates: signals.pendingUpdates,
    capabilities: capStates,
    recheckAtMs: future.length > 0 ? Math.min(...future) : null
  }
  const state: PolicyState = {
    version: 1,
    document: doc.track,
    writable: writable.track,
    capabilities: Object.fromEntries(capTracks),
    decision
  }
  return { decision, state }
}
