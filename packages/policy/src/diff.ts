import type { CapabilityState, DocumentMode, PolicyDecision, ShedReason } from './types.js'

/** What changed from one decision to the next. */
export interface DecisionDiff {
  /**
   * True when anything an app reacts to changed: the mode, writability, the mode's
   * reasons, or any capability's on/off state or reasons. The measurements
   * (`stalenessBoundMs`, `pendingUpdates`, `evaluatedAtMs`, `recheckAtMs`) move at
   * almost every step and are reported separately.
   */
  changed: boolean
  /** The mode transition, or `null` if the mode stayed. `from` is `null` for the first decision. */
  mode: { from: DocumentMode | null; to: DocumentMode } | null
  /** The writability transition, or `null` if it stayed. */
  writable: { from: boolean | null; to: boolean } | null
  /** Whether the document-level `reasons` changed. */
  reasonsChanged: boolean
  /** Capabilities that came back, most important first (priority, then config order). */
  turnedOn: readonly string[]
  /** Capabilities that were shed, least important first (priority, then config order). */
  turnedOff: readonly string[]
  /** Capabilities whose on/off state stayed but whose reasons changed (e.g. `stale` → `recovering`), config order. */
  reasonsChangedFor: readonly string[]
  /** Capabilities present in only one of the two decisions (the config changed), config order. */
  added: readonly string[]
  removed: readonly string[]
  /** Whether `stalenessBoundMs` or `pendingUpdates` changed. */
  measurementsChanged: boolean
}

function sameReasons(a: readonly ShedReason[], b: readonly ShedReason[]): boolean {
  return a.length === b.length && a.every((reason, i) => reason === b[i])
}

/**
 * What changed from `before` (`null`: nothing yet) to `after`. Subscribers
 * typically notify when `diff.changed`.
 */
export function diffDecisions(before: PolicyDecision | null, after: PolicyDecision): DecisionDiff {
  const previous = new Map<string, CapabilityState>()
  for (const cap of before?.capabilities ?? []) previous.set(cap.name, cap)
  const current = new Set(after.capabilities.map((cap) => cap.name))
  const on: { cap: CapabilityState; index: number }[] = []
  const off: { cap: CapabilityState; index: number }[] = []
  const reasonsChangedFor: string[] = []
  const added: string[] = []
  after.capabilities.forEach((cap, index) => {
    const old = previous.get(cap.name)
    if (old === undefined) {
      if (before !== null) added.push(cap.name)
      return
    }
    if (old.on !== cap.on) (cap.on ? on : off).push({ cap, index })
    else if (!sameReasons(old.reasons, cap.reasons)) reasonsChangedFor.push(cap.name)
  })
  const removed = (before?.capabilities ?? []).filter((cap) => !current.has(cap.name)).map((cap) => cap.name)
  on.sort((a, b) => b.cap.priority - a.cap.priority || a.index - b.index)
  off.sort((a, b) => a.cap.priority - b.cap.priority || a.index - b.index)

  const mode = before?.mode === after.mode ? null : { from: before?.mode ?? null, to: after.mode }
  const writable = before?.writable === after.writable ? null : { from: before?.writable ?? null, to: after.writable }
  const reasonsChanged = before === null || !sameReasons(before.reasons, after.reasons)
  const measurementsChanged =
    before === null || before.stalenessBoundMs !== after.stalenessBoundMs || before.pendingUpdates !== after.pendingUpdates
  const changed =
    before === null ||
    mode !== null ||
    writable !== null ||
    reasonsChanged ||
    on.length > 0 ||
    off.length > 0 ||
    reasonsChangedFor.length > 0 ||
    added.length > 0 ||
    removed.length > 0
  return {
    changed,
    mode,
    writable,
    reasonsChanged,
    turnedOn: on.map(({ cap }) => cap.name),
    turnedOff: off.map(({ cap }) => cap.name),
    reasonsChangedFor,
    added,
    removed,
    measurementsChanged
  }
}

/**
 * Whether two decisions are the same for an app: same mode, writability, reasons,
 * and the same capabilities (in order) with the same on/off state and reasons.
 * Ignores the measurements (`evaluatedAtMs`, `stalenessBoundMs`, `pendingUpdates`,
 * `recheckAtMs`) and the bookkeeping fields (`sinceMs`, `recoverAtMs`). Equivalent
 * to `!diffDecisions(a, b).changed` for decisions over the same capabilities.
 */
export function decisionsEqual(a: PolicyDecision, b: PolicyDecision): boolean {
  if (a.mode !== b.mode || a.writable !== b.writable || !sameReasons(a.reasons, b.reasons)) return false
  if (a.capabilities.length !== b.capabilities.length) return false
  return a.capabilities.every((cap, i) => {
    const other = b.capabilities[i]
    return other !== undefined && cap.name === other.name && cap.on === other.on && sameReasons(cap.reasons, other.reasons)
  })
}

/** Whether the named capability is on in `decision` (`false` for an unknown name). */
export function isCapabilityOn(decision: PolicyDecision, name: string): boolean {
  return decision.capabilities.some((cap) => cap.name === name && cap.on)
}
