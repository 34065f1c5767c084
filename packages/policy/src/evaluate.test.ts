import { describe, expect, it } from 'vitest'
import { resolvePolicyConfig } from './config.js'
import { decisionsEqual, diffDecisions, isCapabilityOn } from './diff.js'
import { createPolicyEngine } from './engine.js'
import { evaluatePolicy } from './evaluate.js'
import type { PolicyConfig, PolicyDecision, PolicySignals, PolicyState } from './types.js'

/** Good signals at `nowMs`: connected, just synced, nothing pending, home region reachable. */
function good(nowMs: number, overrides: Partial<PolicySignals> = {}): PolicySignals {
  return {
    nowMs,
    connected: true,
    lastSyncAtMs: nowMs,
    relayStalenessMs: { us: 0 },
    pendingUpdates: 0,
    pendingBytes: 0,
    oldestPendingAgeMs: null,
    homeRegionReachable: true,
    relayReadOnly: false,
    ...overrides
  }
}

const appConfig: PolicyConfig = resolvePolicyConfig({
  maxStalenessMs: 10_000,
  maxPendingUpdates: 1_000,
  homeRegion: 'eu',
  requiresHomeRegionForWrites: true,
  recoveryHoldMs: 5_000,
  capabilities: [
    { name: 'comments', maxStalenessMs: 30_000 },
    { name: 'checkout', requires: 'home-region', maxStalenessMs: 2_000, priority: 10 },
    { name: 'upload', maxPendingUpdates: 500 }
  ]
})

function run(config: PolicyConfig, steps: readonly PolicySignals[]): { decisions: PolicyDecision[]; state: PolicyState | null } {
  let state: PolicyState | null = null
  const decisions: PolicyDecision[] = []
  for (const signals of steps) {
    const next = evaluatePolicy(config, signals, state)
    state = next.state
    decisions.push(next.decision)
  }
  return { decisions, state }
}

function onNames(decision: PolicyDecision): string[] {
  return decision.capabilities.filter((cap) => cap.on).map((cap) => cap.name)
}

describe('modes', () => {
  it('healthy: connected, fresh, nothing pending, every capability on', () => {
    const { decision } = evaluatePolicy(appConfig, good(0), null)
    expect(decision).toMatchObject({ mode: 'healthy', writable: true, reasons: [], stalenessBoundMs: 0, pendingUpdates: 0 })
    expect(onNames(decision)).toEqual(['comments', 'checkout', 'upload'])
    expect(decision.capabilities.every((cap) => cap.reason === null && cap.reasons.length === 0)).toBe(true)
  })

  it('degraded: staleness beyond T', () => {
    const { decision } = evaluatePolicy(appConfig, good(20_000, { lastSyncAtMs: 8_000, relayStalenessMs: { us: 500 } }), null)
    expect(decision.mode).toBe('degraded')
    expect(decision.stalenessBoundMs).toBe(12_500)
    expect(decision.reasons[0]).toBe('stale')
    expect(decision.writable).toBe(true)
    expect(onNames(decision)).toEqual(['comments', 'upload'])
    expect(decision.capabilities[1]).toMatchObject({ name: 'checkout', on: false, reason: 'stale' })
  })

  it('degraded: more than K pending updates', () => {
    const { decision } = evaluatePolicy(appConfig, good(0, { pendingUpdates: 1_001, oldestPendingAgeMs: 10 }), null)
    expect(decision.mode).toBe('degraded')
    expect(decision.reasons).toEqual(['too-many-pending'])
    expect(decision.capabilities[2]).toMatchObject({ name: 'upload', on: false, reason: 'too-many-pending' })
  })

  it('degraded: a capability is shed although the document bounds hold', () => {
    const { decision } = evaluatePolicy(appConfig, good(3_000, { lastSyncAtMs: 0 }), null)
    expect(decision.stalenessBoundMs).toBe(3_000)
    expect(decision.mode).toBe('degraded')
    expect(decision.reasons).toEqual(['stale'])
    expect(onNames(decision)).toEqual(['comments', 'upload'])
  })

  it('degraded: connected but never synced', () => {
    const { decision } = evaluatePolicy(appConfig, good(0, { lastSyncAtMs: null }), null)
    expect(decision).toMatchObject({ mode: 'degraded', stalenessBoundMs: null, reasons: ['never-synced'] })
    expect(onNames(decision)).toEqual(['upload'])
  })

  it('read-only: connected, the document needs its home region and it is unreachable', () => {
    const { decision } = evaluatePolicy(appConfig, good(0, { homeRegionReachable: false }), null)
    expect(decision).toMatchObject({ mode: 'read-only', writable: false })
    expect(decision.reasons).toEqual(['home-region-unreachable'])
    expect(decision.capabilities[1]).toMatchObject({ name: 'checkout', on: false, reason: 'home-region-unreachable' })
    expect(onNames(decision)).toEqual(['comments', 'upload'])
  })

  it('read-only: the relay says so', () => {
    const config = resolvePolicyConfig({ capabilities: [] })
    const { decision } = evaluatePolicy(config, good(0, { relayReadOnly: true }), null)
    expect(decision).toMatchObject({ mode: 'read-only', writable: false, reasons: ['relay-read-only'] })
  })

  it('not read-only when the document does not need its home region', () => {
    const config = resolvePolicyConfig({ ...appConfig, requiresHomeRegionForWrites: false })
    const { decision } = evaluatePolicy(config, good(0, { homeRegionReachable: false }), null)
    expect(decision).toMatchObject({ mode: 'degraded', writable: true, reasons: ['home-region-unreachable'] })
  })

  it('degraded (not read-only) while home-region reachability is unknown', () => {
    const { decision } = evaluatePolicy(appConfig, good(0, { homeRegionReachable: null }), null)
    expect(decision).toMatchObject({ mode: 'degraded', writable: true, reasons: ['home-region-unknown'] })
    expect(decision.capabilities[1]).toMatchObject({ on: false, reason: 'home-region-unknown' })
  })

  it('offline: not connected; writes allowed (queued); offline wins over read-only', () => {
    const { decision } = evaluatePolicy(appConfig, good(1_000, { connected: false, lastSyncAtMs: 0, homeRegionReachable: false, relayReadOnly: true }), null)
    expect(decision).toMatchObject({ mode: 'offline', writable: true })
    expect(decision.reasons[0]).toBe('offline')
    // Bounded-staleness capabilities survive a short disconnection; home-region ones do not.
    expect(onNames(decision)).toEqual(['comments', 'upload'])
    expect(decision.capabilities[1]).toMatchObject({ name: 'checkout', reason: 'offline' })
  })

  it('offline capabilities shed as staleness grows past their bound', () => {
    const { decision } = evaluatePolicy(appConfig, good(31_000, { connected: false, lastSyncAtMs: 0 }), null)
    expect(decision.mode).toBe('offline')
    expect(decision.reasons).toEqual(['offline', 'stale'])
    expect(decision.capabilities[0]).toMatchObject({ name: 'comments', on: false, reason: 'stale' })
  })

  it('pending bytes and pending age shed the capabilities that bound them', () => {
    const config = resolvePolicyConfig({
      capabilities: [
        { name: 'bytes', maxPendingBytes: 100 },
        { name: 'age', maxPendingAgeMs: 1_000 }
      ]
    })
    const { decision } = evaluatePolicy(config, good(0, { pendingUpdates: 3, pendingBytes: 101, oldestPendingAgeMs: 1_001 }), null)
    expect(decision.capabilities.map((cap) => cap.reason)).toEqual(['too-many-pending-bytes', 'pending-too-old'])
    expect(decision.reasons).toEqual(['too-many-pending-bytes', 'pending-too-old'])
  })

  it('a capability needing the home region of a document without one is shed as unknown', () => {
    const config = resolvePolicyConfig({ capabilities: [{ name: 'checkout', requires: 'home-region' }] })
    const { decision } = evaluatePolicy(config, good(0), null)
    expect(decision.capabilities[0]).toMatchObject({ on: false, reason: 'home-region-unknown' })
  })

  it('lists every reason of a capability, the most fundamental first', () => {
    const config = resolvePolicyConfig({ homeRegion: 'eu', capabilities: [{ name: 'x', requires: ['online', 'home-region'], maxStalenessMs: 1, maxPendingUpdates: 0 }] })
    const { decision } = evaluatePolicy(config, good(100, { connected: false, lastSyncAtMs: 0, pendingUpdates: 2 }), null)
    expect(decision.capabilities[0]?.reasons).toEqual(['offline', 'stale', 'too-many-pending'])
    expect(decision.capabilities[0]?.reason).toBe('offline')
  })

  it('puts the reason for the mode first, then the rest in canonical order', () => {
    // Degraded because of K (too-many-pending), while checkout is also stale.
    const degraded = evaluatePolicy(appConfig, good(3_000, { lastSyncAtMs: 0, pendingUpdates: 1_001, oldestPendingAgeMs: 5 }), null)
    expect(degraded.decision.reasons).toEqual(['too-many-pending', 'stale'])
    // Read-only while recovering, with checkout stale.
    const { decisions } = run(appConfig, [good(0), good(1_000, { homeRegionReachable: false }), good(4_000, { lastSyncAtMs: 1_000 })])
    expect(decisions[2]).toMatchObject({ mode: 'read-only', reasons: ['recovering', 'stale'] })
  })

  it('fails closed on NaN signals and rejects a non-finite nowMs', () => {
    const { decision } = evaluatePolicy(appConfig, good(0, { pendingUpdates: Number.NaN }), null)
    expect(decision.mode).toBe('degraded')
    expect(decision.capabilities[2]).toMatchObject({ on: false, reason: 'too-many-pending' })
    expect(() => evaluatePolicy(appConfig, good(Number.NaN), null)).toThrow(RangeError)
  })
})

describe('hysteresis', () => {
  const config = resolvePolicyConfig({ recoveryHoldMs: 5_000, capabilities: [{ name: 'live', requires: 'online' }] })

  it('sheds immediately and comes back only after the requirement held for recoveryHoldMs', () => {
    const { decisions } = run(config, [
      good(0),
      good(1_000, { connected: false }),
      good(2_000),
      good(4_000),
      good(6_999),
      good(7_000)
    ])
    expect(decisions.map((d) => d.mode)).toEqual(['healthy', 'offline', 'degraded', 'degraded', 'degraded', 'healthy'])
    expect(decisions.map((d) => d.capabilities[0]?.on)).toEqual([true, false, false, false, false, true])
    expect(decisions[2]?.capabilities[0]).toMatchObject({ reason: 'recovering', recoverAtMs: 7_000, sinceMs: 1_000 })
    expect(decisions[2]?.reasons).toEqual(['recovering'])
    expect(decisions[5]?.capabilities[0]).toMatchObject({ on: true, sinceMs: 7_000, recoverAtMs: null })
  })

  it('a flapping link restarts the hold', () => {
    const { decisions } = run(config, [
      good(0),
      good(1_000, { connected: false }),
      good(2_000),
      good(5_000, { connected: false }),
      good(6_000),
      good(10_000),
      good(11_000)
    ])
    expect(decisions.map((d) => d.capabilities[0]?.on)).toEqual([true, false, false, false, false, false, true])
  })

  it('the first acquisition needs no hold (nothing to recover from)', () => {
    const { decisions } = run(config, [good(0, { connected: false, lastSyncAtMs: null }), good(100)])
    expect(decisions.map((d) => d.mode)).toEqual(['offline', 'healthy'])
  })

  it('leaving read-only waits for the hold too; going offline meanwhile restarts it', () => {
    const { decisions } = run(appConfig, [
      good(0),
      good(1_000, { homeRegionReachable: false }),
      good(2_000),
      good(3_000, { connected: false }),
      good(4_000),
      good(8_999),
      good(9_000)
    ])
    expect(decisions.map((d) => d.mode)).toEqual(['healthy', 'read-only', 'read-only', 'offline', 'read-only', 'read-only', 'healthy'])
    expect(decisions[2]?.reasons[0]).toBe('recovering')
    expect(decisions.map((d) => d.writable)).toEqual([true, false, false, true, false, false, true])
  })

  it('a zero hold recovers at once', () => {
    const zero = resolvePolicyConfig({ ...config, recoveryHoldMs: 0 })
    const { decisions } = run(zero, [good(0), good(1, { connected: false }), good(2)])
    expect(decisions.map((d) => d.mode)).toEqual(['healthy', 'offline', 'healthy'])
  })

  it('time going backwards restarts the hold instead of breaking it', () => {
    const { decisions } = run(config, [good(10_000), good(11_000, { connected: false }), good(12_000), good(500), good(5_500)])
    expect(decisions.map((d) => d.capabilities[0]?.on)).toEqual([true, false, false, false, true])
  })
})

describe('recheckAtMs', () => {
  it('is when a hold ends or a bound is crossed with unchanged signals', () => {
    const first = evaluatePolicy(appConfig, good(0), null)
    // checkout (2 s) is the first bound to be crossed: staleness 0 + relay 0 > 2000 at 2001.
    expect(first.decision.recheckAtMs).toBe(2_001)
    const at = evaluatePolicy(appConfig, { ...good(2_001), lastSyncAtMs: 0 }, first.state)
    expect(at.decision.capabilities[1]).toMatchObject({ name: 'checkout', on: false, reason: 'stale' })
    const before = evaluatePolicy(appConfig, { ...good(2_000), lastSyncAtMs: 0 }, first.state)
    expect(decisionsEqual(before.decision, first.decision)).toBe(true)
  })

  it('points at the end of a recovery hold', () => {
    const config = resolvePolicyConfig({ recoveryHoldMs: 5_000, capabilities: [{ name: 'live', requires: 'online' }] })
    const { decisions } = run(config, [good(0), good(1_000, { connected: false }), good(2_000)])
    expect(decisions[2]?.recheckAtMs).toBe(7_000)
  })

  it('accounts for the growing age of the oldest pending update', () => {
    const config = resolvePolicyConfig({ maxStalenessMs: 1e9, capabilities: [{ name: 'age', maxPendingAgeMs: 1_000 }] })
    const { decision } = evaluatePolicy(config, good(0, { pendingUpdates: 1, oldestPendingAgeMs: 400 }), null)
    expect(decision.recheckAtMs).toBe(601)
  })
})

describe('createPolicyEngine, diffDecisions, decisionsEqual', () => {
  it('keeps the state between updates and reports what changed', () => {
    const engine = createPolicyEngine(appConfig)
    expect(engine.decision).toBeNull()
    const d0 = engine.update(good(0))
    expect(diffDecisions(null, d0)).toMatchObject({ changed: true, mode: { from: null, to: 'healthy' } })
    const d1 = engine.update(good(1_000))
    expect(engine.decision).toBe(d1)
    expect(decisionsEqual(d0, d1)).toBe(true)
    expect(diffDecisions(d0, d1).changed).toBe(false)
    const d2 = engine.update(good(2_000, { homeRegionReachable: false, pendingUpdates: 600, oldestPendingAgeMs: 5 }))
    const diff = diffDecisions(d1, d2)
    expect(diff).toMatchObject({
      changed: true,
      mode: { from: 'healthy', to: 'read-only' },
      writable: { from: true, to: false },
      reasonsChanged: true,
      turnedOn: [],
      measurementsChanged: true
    })
    // Least important first: upload (priority 0) before checkout (priority 10).
    expect(diff.turnedOff).toEqual(['upload', 'checkout'])
    expect(decisionsEqual(d1, d2)).toBe(false)
    expect(isCapabilityOn(d2, 'comments')).toBe(true)
    expect(isCapabilityOn(d2, 'checkout')).toBe(false)
    expect(isCapabilityOn(d2, 'nope')).toBe(false)
  })

  it('reports reason changes of a capability that stays shed', () => {
    const engine = createPolicyEngine({ recoveryHoldMs: 5_000, capabilities: [{ name: 'live', requires: 'online' }] })
    engine.update(good(0))
    const off = engine.update(good(1_000, { connected: false }))
    const recovering = engine.update(good(2_000))
    expect(diffDecisions(off, recovering)).toMatchObject({ changed: true, reasonsChangedFor: ['live'], turnedOn: [] })
  })

  it('resumes from a persisted (JSON) state', () => {
    const config = { recoveryHoldMs: 5_000, capabilities: [{ name: 'live', requires: 'online' as const }] }
    const a = createPolicyEngine(config)
    a.update(good(0))
    a.update(good(1_000, { connected: false }))
    a.update(good(2_000))
    const b = createPolicyEngine(config, { initialState: JSON.parse(JSON.stringify(a.state)) as PolicyState })
    expect(b.update(good(6_000)).capabilities[0]?.on).toBe(false)
    expect(b.update(good(7_000)).capabilities[0]?.on).toBe(true)
  })

  it('validates its config', () => {
    expect(() => createPolicyEngine({ capabilities: [{ name: 'a' }, { name: 'a' }] })).toThrow(/capabilities\[1\]\.name/)
  })
})

describe('worked example (README): comments / checkout / upload', () => {
  it('goes healthy -> degraded -> read-only -> recovered', () => {
    // A client in us, connected to the us relay; the document's home region is eu.
    const engine = createPolicyEngine(appConfig)
    const at = (nowMs: number, overrides: Partial<PolicySignals>) => engine.update(good(nowMs, overrides))

    // t = 0: synced, the us relay last exchanged with eu 200 ms ago.
    const d1 = at(0, { relayStalenessMs: { eu: 200 } })
    expect(d1).toMatchObject({ mode: 'healthy', writable: true, reasons: [], stalenessBoundMs: 200 })
    expect(onNames(d1)).toEqual(['comments', 'checkout', 'upload'])

    // t = 60 s: the us<->eu link is slow; the last completed exchange started 4.8 s ago.
    const d2 = at(60_000, { relayStalenessMs: { eu: 4_800 } })
    expect(d2).toMatchObject({ mode: 'degraded', writable: true, reasons: ['stale'], stalenessBoundMs: 4_800 })
    expect(onNames(d2)).toEqual(['comments', 'upload'])
    expect(d2.capabilities[1]).toMatchObject({ name: 'checkout', reason: 'stale', sinceMs: 60_000 })

    // t = 90 s: eu is partitioned away; the relay makes the document read-only.
    const d3 = at(90_000, { relayStalenessMs: { eu: 34_800 }, homeRegionReachable: false, relayReadOnly: true, pendingUpdates: 3, oldestPendingAgeMs: 1_000 })
    expect(d3).toMatchObject({ mode: 'read-only', writable: false, stalenessBoundMs: 34_800 })
    expect(d3.reasons).toEqual(['relay-read-only', 'home-region-unreachable', 'stale'])
    expect(onNames(d3)).toEqual(['upload'])
    expect(d3.capabilities[1]?.reasons).toEqual(['relay-read-only', 'home-region-unreachable', 'stale'])

    // t = 120 s: the partition heals, anti-entropy completes, the outbox flushes. Everything holds again, but not for 5 s yet.
    const d4 = at(120_000, { relayStalenessMs: { eu: 300 } })
    expect(d4).toMatchObject({ mode: 'read-only', writable: false, reasons: ['recovering'], stalenessBoundMs: 300 })
    expect(onNames(d4)).toEqual(['upload'])
    expect(d4.capabilities[0]).toMatchObject({ name: 'comments', reason: 'recovering', recoverAtMs: 125_000 })
    // Without another sync round, checkout's 2 s bound would be crossed first.
    expect(d4.recheckAtMs).toBe(121_701)

    // Sync rounds keep completing every second; nothing changes until the hold has elapsed.
    for (const t of [121_000, 122_000, 123_000, 124_000]) expect(decisionsEqual(at(t, { relayStalenessMs: { eu: 300 } }), d4)).toBe(true)

    // t = 125 s: held for recoveryHoldMs -> everything comes back at once.
    const d5 = at(125_000, { relayStalenessMs: { eu: 250 } })
    expect(d5).toMatchObject({ mode: 'healthy', writable: true, reasons: [] })
    expect(onNames(d5)).toEqual(['comments', 'checkout', 'upload'])
    expect(diffDecisions(d4, d5)).toMatchObject({ mode: { from: 'read-only', to: 'healthy' }, turnedOn: ['checkout', 'comments'], turnedOff: [] })
  })
})
