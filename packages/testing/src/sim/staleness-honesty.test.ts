import { describe, expect, it } from 'vitest'
import type { PolicyDecision } from '@meridian/policy'
import type { KitError } from '../assertions.js'
import { createMemoryCluster } from './memory-cluster.js'

describe('expectHonestStaleness', () => {
  it('passes an honest run with skewed clocks, and counts what it checked', async () => {
    const c = await createMemoryCluster({ seed: 11, regions: ['eu', 'us'], clients: [{ region: 'eu' }, { region: 'us' }], clockSkew: { maxOffsetMs: 300_000, maxRateError: 1e-4, maxRelayOffsetMs: 100_000 } })
    try {
      const honesty = c.expectHonestStaleness()
      for (let i = 0; i < 5; i++) {
        c.randomEdits('c1', { ops: 2 })
        await c.run(300)
      }
      await c.settle()
      await c.run(2_000)
      const r = honesty.report
      expect(r.writes).toBeGreaterThanOrEqual(5)
      expect(r.bounded).toBeGreaterThan(100)
      expect(r.tightestMs).not.toBeNull()
      expect(Math.abs(c.skewOf('c1').offsetMs)).toBeLessThanOrEqual(300_000)
      expect(c.skewOf('eu-1')).toEqual(c.skewOf('eu-1'))
    } finally {
      await c.close()
    }
  })

  it('catches a client that under-reports, naming the client, the write and the seed', async () => {
    const c = await createMemoryCluster({ seed: 12, regions: ['eu', 'us'], clients: [{ region: 'eu' }, { region: 'us' }] })
    try {
      await c.settle()
      const liar = c.client('c2').provider
      const honest = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(liar), 'policy')?.get as () => PolicyDecision
      // A bound of 0 while cut off: every acknowledged write should already be here.
      Object.defineProperty(liar, 'policy', { get: () => ({ ...honest.call(liar), stalenessBoundMs: 0 }) })
      c.expectHonestStaleness()
      c.partition('eu', 'us')
      c.randomEdits('c1', { ops: 1 })
      const error = await c.run(1_000).then(() => null, (e: unknown) => e as KitError)
      expect(error?.code).toBe('ERR_DISHONEST_STALENESS')
      expect(error?.message).toMatch(/client c2 reports stalenessBoundMs 0\.0 .* lacks write #1 of client c1/)
      expect(error?.message).toContain('seed 12')
    } finally {
      await c.close()
    }
  })
})
