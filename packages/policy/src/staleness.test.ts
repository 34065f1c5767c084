import { describe, expect, it } from 'vitest'
import { computeStalenessBoundMs, relayStalenessMs, worstRelayStalenessMs } from './staleness.js'
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
