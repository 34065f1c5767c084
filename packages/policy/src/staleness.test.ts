import { describe, expect, it } from 'vitest'
import { computeStalenessBoundMs, decisionAt, relayStalenessMs, withOmittedRegions, worstRelayStalenessMs } from './staleness.js'
import { createPolicyEngine } from './engine.js'
import type { PolicySignals } from './types.js'

function signals(overrides: Partial<PolicySignals>): PolicySignals {
  return {
    nowMs: 100_000,
    connected: true,
    lastSyncAtMs: 100_000,
    relayStalenessMs: {},
    pendingUpdates: 0,
    pendingBytes: 0,
    oldestPendingAgeMs: null,
    homeRegionReachable: true,
    ...overrides
  }
}

describe('relayStalenessMs (relay side)', () => {
  it('is now - s_Q per region, null for a region never exchanged with', () => {
    expect(relayStalenessMs({ us: 9_000, ap: null, sa: 10_000 }, 10_000)).toEqual({ ap: null, sa: 0, us: 1_000 })
  })

  it('never goes negative when the clock went backwards', () => {
    expect(relayStalenessMs({ us: 12_000 }, 10_000)).toEqual({ us: 0 })
  })

  it('is empty for a single region', () => {
    expect(relayStalenessMs({}, 5)).toEqual({})
  })
})

describe('worstRelayStalenessMs', () => {
  it('is 0 without regions, the max otherwise, null if any region is unbounded', () => {
    expect(worstRelayStalenessMs({})).toBe(0)
    expect(worstRelayStalenessMs({ us: 300, ap: 1_200 })).toBe(1_200)
    expect(worstRelayStalenessMs({ us: 300, ap: null })).toBeNull()
    expect(worstRelayStalenessMs({ us: Number.NaN })).toBeNull()
  })

  it('reads an empty list from a relay with other regions configured as unbounded, not single-region', () => {
    expect(worstRelayStalenessMs({}, true)).toBeNull()
    expect(worstRelayStalenessMs({ us: 300 }, true)).toBe(300)
    expect(computeStalenessBoundMs(signals({ relayStalenessMs: {}, relayMeshConfigured: true }))).toBeNull()
  })
})

describe('withOmittedRegions (client reading a report)', () => {
  it('marks every region seen before but omitted now as unbounded, except the reporting relay\'s own', () => {
    expect(withOmittedRegions({ us: 200 }, ['us', 'ap', 'eu'], 'eu')).toEqual({ us: 200, ap: null })
    // A restarted relay that forgot every region.
    expect(withOmittedRegions({}, ['us', 'ap'], 'eu')).toEqual({ us: null, ap: null })
    expect(withOmittedRegions({ us: 5 }, [], 'eu')).toEqual({ us: 5 })
  })

  it('cannot be tricked by a region named __proto__', () => {
    const out = withOmittedRegions(Object.fromEntries([['__proto__', 5]]), ['__proto__', 'x'], null)
    expect(Object.keys(out).sort()).toEqual(['__proto__', 'x'])
  })
})

describe('clock rate error', () => {
  it('stretches both intervals so a clock running slow never shortens the bound', () => {
    const b = computeStalenessBoundMs(signals({ lastSyncAtMs: 99_000, relayStalenessMs: { us: 1_000 } }), 0.001) as number
    expect(b).toBeCloseTo(2_000 / 0.999, 6)
    expect(b).toBeGreaterThan(2_000)
  })
})

describe('decisionAt (the bound at the moment it is read)', () => {
  it('grows the bound with elapsed time, keeps mode and capabilities, and never shrinks it', () => {
    const engine = createPolicyEngine({ maxStalenessMs: 10_000, capabilities: [{ name: 'c', maxStalenessMs: 5_000 }] })
    const d = engine.update(signals({ lastSyncAtMs: 99_000, relayStalenessMs: { us: 500 } }))
    expect(d.stalenessBoundMs).toBe(1_500)
    expect(decisionAt(d, 102_000).stalenessBoundMs).toBe(3_500)
    expect(decisionAt(d, 102_000).mode).toBe(d.mode)
    expect(decisionAt(d, 99_000)).toBe(d)
    expect(decisionAt({ ...d, stalenessBoundMs: null }, 200_000).stalenessBoundMs).toBeNull()
    // It agrees with a fresh evaluation at the same moment (same signals).
    const later = createPolicyEngine({ maxStalenessMs: 10_000 }).update(signals({ nowMs: 103_000, lastSyncAtMs: 99_000, relayStalenessMs: { us: 500 } }))
    expect(decisionAt(d, 103_000).stalenessBoundMs).toBe(later.stalenessBoundMs)
  })

  it('with a rate error: matches the engine and the recheck time of the crossing', () => {
    const engine = createPolicyEngine({ maxStalenessMs: 10_000, maxClockRateError: 0.01, capabilities: [{ name: 'c', maxStalenessMs: 5_000 }] })
    const d = engine.update(signals({ lastSyncAtMs: 99_000, relayStalenessMs: { us: 500 } }))
    const fresh = engine.update(signals({ nowMs: 101_000, lastSyncAtMs: 99_000, relayStalenessMs: { us: 500 } }))
    expect(decisionAt(d, 101_000, 0.01).stalenessBoundMs).toBeCloseTo(fresh.stalenessBoundMs as number, 6)
    // The capability sheds exactly when the stretched bound passes 5 000.
    const at = d.recheckAtMs as number
    expect(engine.update(signals({ nowMs: at - 1, lastSyncAtMs: 99_000, relayStalenessMs: { us: 500 } })).capabilities[0]?.on).toBe(true)
    expect(engine.update(signals({ nowMs: at, lastSyncAtMs: 99_000, relayStalenessMs: { us: 500 } })).capabilities[0]?.on).toBe(false)
  })
})

describe('computeStalenessBoundMs (client side)', () => {
  it('is time since the last completed sync plus the worst reported relay staleness', () => {
    expect(computeStalenessBoundMs(signals({ lastSyncAtMs: 97_000, relayStalenessMs: { us: 1_500, ap: 4_000 } }))).toBe(7_000)
  })

  it('is just the time since sync for a single region', () => {
    expect(computeStalenessBoundMs(signals({ lastSyncAtMs: 99_250 }))).toBe(750)
  })

  it('keeps growing while disconnected (time is an input)', () => {
    expect(computeStalenessBoundMs(signals({ connected: false, lastSyncAtMs: 40_000, relayStalenessMs: { us: 500 } }))).toBe(60_500)
  })

  it('is unbounded (null) when never synced or a region was never exchanged with', () => {
    expect(computeStalenessBoundMs(signals({ lastSyncAtMs: null }))).toBeNull()
    expect(computeStalenessBoundMs(signals({ relayStalenessMs: { us: 10, ap: null } }))).toBeNull()
  })

  it('measures from the staleness report when it is older than the sync round', () => {
    const s = signals({ lastSyncAtMs: 99_000, relayReportedAtMs: 95_000, relayStalenessMs: { us: 1_000 } })
    expect(computeStalenessBoundMs(s)).toBe(6_000)
    expect(computeStalenessBoundMs({ ...s, relayReportedAtMs: 99_500 })).toBe(2_000)
    expect(computeStalenessBoundMs({ ...s, relayReportedAtMs: null })).toBe(2_000)
  })

  it('counts a sync time in the future (clock went backwards) as 0 elapsed', () => {
    expect(computeStalenessBoundMs(signals({ lastSyncAtMs: 100_500, relayStalenessMs: { us: 200 } }))).toBe(200)
  })

  it('is unbounded (null) rather than NaN for garbage input', () => {
    expect(computeStalenessBoundMs(signals({ lastSyncAtMs: Number.NaN }))).toBeNull()
  })
})
