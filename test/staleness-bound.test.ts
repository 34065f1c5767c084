import { afterEach, describe, expect, it } from 'vitest'
import type { PolicyDecision } from '@meridian/policy'
import { createMemoryCluster, parseSeed, type MemoryCluster } from '@meridian/testing'

// How the SDK reports its staleness bound (#14), on simulated time: it is computed for the moment it is read
// and keeps growing offline; capabilities change the moment it crosses their bound; a relay that omits regions
// (a restart) is unbounded; a bound the relay cannot deliver is warned about once.
const seed = parseSeed(process.env.MERIDIAN_SEED)
let cluster: MemoryCluster | null = null
afterEach(async () => {
  await cluster?.close()
  cluster = null
})

describe('provider.policy.stalenessBoundMs', () => {
  it('grows with time while offline, read at any moment; a capability sheds the moment it crosses its bound', async () => {
    const c = (cluster = await createMemoryCluster({
      seed,
      clients: [{ id: 'x', options: { policy: { maxStalenessMs: 60_000, capabilities: [{ name: 'fresh', maxStalenessMs: 3_000 }] } } }]
    }))
    const x = c.client('x').provider
    await c.until(() => x.policy.mode === 'healthy' && x.can('fresh'), 'healthy')
    const shed: { atMs: number; decision: PolicyDecision }[] = []
    x.on('policy', (d, diff) => {
      if (diff.turnedOff.includes('fresh')) shed.push({ atMs: c.now(), decision: d })
    })
    x.disconnect()
    await c.until(() => x.status === 'disconnected', 'offline')
    const t0 = c.now()
    const b0 = x.policy.stalenessBoundMs as number
    expect(b0).toBeGreaterThan(0)
    await c.run(1_000)
    // Read between evaluations: exactly the elapsed time later (stretched by the 100 ppm rate allowance).
    expect(x.policy.stalenessBoundMs).toBeCloseTo(b0 + (c.now() - t0) * (1 / (1 - 1e-4)), 3)
    expect(x.policy.evaluatedAtMs).toBeLessThan(c.now())
    await c.run(10_000)
    expect(x.policy.stalenessBoundMs).toBeGreaterThan(b0 + 10_000)
    expect(x.policy.mode).toBe('offline')
    // Shed while offline, on a timer, at the crossing: its bound then was just past 3 s.
    expect(shed).toHaveLength(1)
    const at = shed[0] as { atMs: number; decision: PolicyDecision }
    expect(at.decision.stalenessBoundMs).toBeGreaterThan(3_000)
    expect(at.decision.stalenessBoundMs).toBeLessThan(3_002)
    x.connect()
    await c.until(() => x.status === 'connected' && (x.policy.stalenessBoundMs ?? Infinity) < 1_000, 'back')
  })
})

describe('a relay that omits regions', () => {
  it('restarted while cut off from every other region: its clients are unbounded, not healthy, until it exchanged again', async () => {
    const c = (cluster = await createMemoryCluster({
      seed,
      regions: ['a', 'c'],
      relayOptions: { statusIntervalMs: 100 },
      clients: [{ id: 'writer', region: 'a' }, { id: 'observer', region: 'c', options: { policy: { maxStalenessMs: 5_000 } } }]
    }))
    const observer = c.client('observer').provider
    await c.until(() => observer.policy.mode === 'healthy', 'healthy')
    const honesty = c.expectHonestStaleness()
    await c.crash('c-1')
    c.partition('a', 'c')
    for (let i = 0; i < 5; i++) {
      c.randomEdits('writer', { ops: 1 })
      await c.run(200)
    }
    await c.drive(c.client('writer').provider.whenAcknowledged({ timeoutMs: 5_000 }))
    await c.restart('c-1')
    await c.until(() => observer.status === 'connected' && observer.synced, 'observer back on c-1', { timeoutMs: 20_000 })
    // The restarted relay lists no region (or only unexchanged ones): the observer, who saw region a, is unbounded.
    for (let i = 0; i < 30; i++) {
      await c.run(100)
      expect(observer.policy.stalenessBoundMs).toBeNull()
      expect(observer.policy.mode).not.toBe('healthy')
    }
    c.heal()
    await c.settle()
    await c.until(() => observer.policy.mode === 'healthy' && observer.policy.stalenessBoundMs !== null, 'recovered', { timeoutMs: 20_000 })
    expect(honesty.report.bounded).toBeGreaterThan(0)
  })
})

describe('a capability bound below what the relay delivers', () => {
  it('is reported once (ERR_STALENESS_UNACHIEVABLE), naming it; achievable ones are not', async () => {
    const c = (cluster = await createMemoryCluster({
      seed,
      regions: ['eu', 'us'],
      meshTiming: { antiEntropyIntervalMs: 1_000 },
      latencyMs: [20, 40],
      relayOptions: { statusIntervalMs: 100 },
      clients: [{ id: 'x', region: 'eu', options: { policy: { capabilities: [{ name: 'instant', maxStalenessMs: 30 }, { name: 'relaxed', maxStalenessMs: 20_000 }] } } }]
    }))
    const x = c.client('x')
    await c.run(15_000)
    const warnings = x.errors.filter((e) => e.startsWith('ERR_STALENESS_UNACHIEVABLE'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain("'instant'")
    // A partition is not a configuration problem: it sheds, and is not reported.
    c.partition('eu', 'us')
    await c.run(10_000)
    expect(x.errors.filter((e) => e.startsWith('ERR_STALENESS_UNACHIEVABLE'))).toHaveLength(1)
  })
})
