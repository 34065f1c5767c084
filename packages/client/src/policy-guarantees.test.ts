import { describe, expect, it } from 'vitest'
import type { Clock } from '@meridian/base'
import type { StatusFields } from '@meridian/protocol'
import { PolicyGuarantees as Guarantees } from './policy-guarantees.js'
import type { MeridianError } from './errors.js'

/** A clock the test moves by hand; timers are not needed by these checks. */
function manualClock(): Clock & { set(ms: number): void } {
  let now = 1_000_000
  return {
    now: () => now,
    set: (ms) => {
      now = ms
    },
    setTimeout: () => null,
    clearTimeout: () => undefined,
    setInterval: () => null,
    clearInterval: () => undefined
  }
}

const status = (regions: Record<string, number | null>, meshConfigured = true): StatusFields =>
  ({ readOnly: false, homeRegion: null, homeRegionReachable: null, regions, meshConfigured })

function guarantees(clock: Clock): { g: Guarantees; warnings: MeridianError[] } {
  const warnings: MeridianError[] = []
  const g = new Guarantees({
    policy: { maxClockRateError: 0 },
    clock,
    onPolicy: () => undefined,
    onConverged: () => undefined,
    onWritable: () => undefined,
    onWarning: (e) => warnings.push(e)
  })
  return { g, warnings }
}

describe('Guarantees: the staleness inputs', () => {
  it('measures from the answered send time, not the receive time', () => {
    const clock = manualClock()
    const { g } = guarantees(clock)
    g.connection(true)
    g.relayInfo('eu')
    g.synced(1_000_000)
    g.status(status({ us: 300 }), 1_000_000, true)
    clock.set(1_000_050)
    expect(g.decision.stalenessBoundMs).toBe(350)
    g.syncPoint(1_000_040)
    g.status(status({ us: 100 }), 1_000_040, true)
    clock.set(1_000_090)
    expect(g.decision.stalenessBoundMs).toBe(150)
  })

  it('a region seen before and omitted now is unbounded; an empty list from a meshed relay too', () => {
    const clock = manualClock()
    const { g } = guarantees(clock)
    g.connection(true)
    g.relayInfo('eu')
    g.synced(clock.now())
    g.status(status({ us: 10, ap: 20 }), clock.now(), true)
    expect(g.decision.stalenessBoundMs).toBe(20)
    g.status(status({ us: 10 }), clock.now(), true)
    expect(g.decision.stalenessBoundMs).toBeNull()
    g.status(status({ us: 10, ap: 20 }), clock.now(), true)
    expect(g.decision.stalenessBoundMs).toBe(20)
    // Failover to the ap relay: it does not list itself, and must list eu (seen as the first relay's region).
    g.connection(false)
    g.connection(true)
    g.relayInfo('ap')
    g.synced(clock.now())
    expect(g.decision.stalenessBoundMs).toBeNull() // nothing from ap yet: no reuse of eu's report
    g.status(status({ us: 5 }), clock.now(), true)
    expect(g.decision.stalenessBoundMs).toBeNull() // eu omitted
    g.status(status({ us: 5, eu: 7 }), clock.now(), true)
    expect(g.decision.stalenessBoundMs).toBe(7)
    g.status(status({}, true), clock.now(), true)
    expect(g.decision.stalenessBoundMs).toBeNull()
  })

  it('a single-region relay (no mesh configured, nothing seen) is bounded by the time since sync alone', () => {
    const clock = manualClock()
    const { g } = guarantees(clock)
    g.connection(true)
    g.relayInfo('default')
    g.status(status({}, false), clock.now() - 5, false)
    g.synced(clock.now() - 2)
    // The early report counts from the attempt's start (5 ms ago), the conservative choice.
    expect(g.decision.stalenessBoundMs).toBe(5)
  })

  it('keeps growing while disconnected', () => {
    const clock = manualClock()
    const { g } = guarantees(clock)
    g.connection(true)
    g.synced(clock.now())
    g.status(status({}, false), clock.now(), true)
    g.connection(false)
    clock.set(clock.now() + 60_000)
    expect(g.decision.stalenessBoundMs).toBe(60_000)
    expect(g.decision.mode).toBe('offline')
  })
})
