import type { PolicyDecision, PolicySignals } from './types.js'

/**
 * Relay side: the relay's staleness towards each region, `nowMs - s_Q`, where `s_Q`
 * is the local time at which the relay *started* its last completed anti-entropy
 * exchange with region Q (everything Q had accepted before `s_Q` is now here).
 * Measured on the relay's own clock only. `null` for a region never exchanged with
 * (unbounded). A clock that went backwards yields 0, never a negative staleness.
 */
export function relayStalenessMs(
  lastExchangeStartedAtMs: Readonly<Record<string, number | null>>,
  nowMs: number
): Record<string, number | null> {
  const out: Record<string, number | null> = {}
  for (const region of Object.keys(lastExchangeStartedAtMs).sort()) {
    const startedAtMs = lastExchangeStartedAtMs[region]
    if (startedAtMs === null || startedAtMs === undefined) {
      out[region] = null
      continue
    }
    const staleness = nowMs - startedAtMs
    out[region] = Number.isFinite(staleness) ? Math.max(0, staleness) : null
  }
  return out
}

/**
 * The relay's worst reported staleness towards any region: 0 when it reported no
 * region and has no other region configured (single region), `null` when some
 * region is unbounded (never exchanged, or a non-finite value) or when a relay
 * with other regions configured (`meshConfigured`) listed none.
 */
export function worstRelayStalenessMs(relayStaleness: Readonly<Record<string, number | null>>, meshConfigured = false): number | null {
  let worst = 0
  if (meshConfigured && Object.keys(relayStaleness).length === 0) return null
  for (const value of Object.values(relayStaleness)) {
    if (value === null || !Number.isFinite(value)) return null
    if (value > worst) worst = value
  }
  return worst
}

/**
 * A client's reading of one relay report (PROTOCOL.md, status bit 3): every region
 * the client has seen this session — listed by any relay, or the region of any relay
 * it talked to — that this report omits counts as unbounded (`null`), except the
 * reporting relay's own region (a relay never lists itself). A relay that forgot a
 * region (restarted, partial view) thus never reads as "that region is fine".
 */
export function withOmittedRegions(
  reported: Readonly<Record<string, number | null>>,
  seenRegions: Iterable<string>,
  relayRegion: string | null
): Record<string, number | null> {
  const out: Record<string, number | null> = { ...reported }
  for (const region of seenRegions) {
    if (region !== relayRegion && !Object.prototype.hasOwnProperty.call(out, region)) out[region] = null
  }
  return out
}

/** How much a measured interval is stretched so a clock running slow by up to `rateError` never shortens it. */
export function intervalStretch(rateError: number | undefined): number {
  const r = rateError ?? 0
  return r > 0 && r < 1 ? 1 / (1 - r) : 1
}

/**
 * The input time the staleness bound is measured from: the last completed sync
 * round, or the staleness report if it is older (conservative). `null` if never synced.
 */
export function stalenessReferenceAtMs(signals: PolicySignals): number | null {
  const { lastSyncAtMs } = signals
  if (lastSyncAtMs === null) return null
  const reportedAtMs = signals.relayReportedAtMs
  if (reportedAtMs === null || reportedAtMs === undefined) return lastSyncAtMs
  return Math.min(lastSyncAtMs, reportedAtMs)
}

/**
 * The client's staleness bound (docs/architecture.md, "Staleness, defined without trusting
 * clocks"): the time since it last completed a sync round with its relay, plus the
 * relay's worst staleness towards any region as reported then. `null` means
 * unbounded: never synced, or the relay never exchanged with some region. Both
 * terms are intervals on one clock each, so no clock-skew assumption is needed.
 * A reference time in the future (clock went backwards) counts as 0 elapsed. With
 * `maxClockRateError` the sum is stretched by `1 / (1 - maxClockRateError)`.
 */
export function computeStalenessBoundMs(signals: PolicySignals, maxClockRateError = 0): number | null {
  const referenceAtMs = stalenessReferenceAtMs(signals)
  if (referenceAtMs === null) return null
  const worst = worstRelayStalenessMs(signals.relayStalenessMs, signals.relayMeshConfigured === true)
  if (worst === null) return null
  // Both terms are intervals measured on some clock: stretched by its possible rate error.
  const bound = (Math.max(0, signals.nowMs - referenceAtMs) + Math.max(0, worst)) * intervalStretch(maxClockRateError)
  return Number.isFinite(bound) ? bound : null
}

/**
 * `decision` as of `nowMs` (not before its `evaluatedAtMs`): the staleness bound grows
 * with elapsed time at the rate it is computed with (`maxClockRateError`), while the
 * mode and capabilities stay valid until `recheckAtMs` (re-evaluate from then on).
 * A clock that went backwards leaves the bound as evaluated.
 */
export function decisionAt(decision: PolicyDecision, nowMs: number, maxClockRateError = 0): PolicyDecision {
  const elapsedMs = nowMs - decision.evaluatedAtMs
  if (decision.stalenessBoundMs === null || !(elapsedMs > 0)) return decision
  return { ...decision, stalenessBoundMs: decision.stalenessBoundMs + elapsedMs * intervalStretch(maxClockRateError) }
}
