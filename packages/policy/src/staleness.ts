import type { PolicySignals } from './types.js'

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
 * region (single region), `null` when some region is unbounded (never exchanged,
 * or a non-finite value).
 */
export function worstRelayStalenessMs(relayStaleness: Readonly<Record<string, number | null>>): number | null {
  let worst = 0
  for (const value of Object.values(relayStaleness)) {
    if (value === null || !Number.isFinite(value)) return null
    if (value > worst) worst = value
  }
  return worst
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
 * A reference time in the future (clock went backwards) counts as 0 elapsed.
 */
export function computeStalenessBoundMs(signals: PolicySignals): number | null {
  const referenceAtMs = stalenessReferenceAtMs(signals)
  if (referenceAtMs === null) return null
  const worst = worstRelayStalenessMs(signals.relayStalenessMs)
  if (worst === null) return null
  const bound = Math.max(0, signals.nowMs - referenceAtMs) + Math.max(0, worst)
  return Number.isFinite(bound) ? bound : null
}
