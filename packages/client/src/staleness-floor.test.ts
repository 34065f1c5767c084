import { describe, expect, it } from 'vitest'
import { STALENESS_FLOOR_SAMPLES, StalenessFloor } from './staleness-floor.js'

describe('StalenessFloor', () => {
  const caps = [{ name: 'instant', maxStalenessMs: 50 }, { name: 'relaxed', maxStalenessMs: 5_000 }, { name: 'free' }]

  it('reports a bound below the best fresh reports once, never an achievable one', () => {
    const f = new StalenessFloor(caps)
    const out: string[] = []
    // A healthy mesh: staleness climbs, drops after each exchange (the drops are the samples).
    for (let round = 0; round < 3 * STALENESS_FLOOR_SAMPLES; round++) {
      for (const v of [400, 600, 800, 120]) out.push(...f.report({ us: v }, true).map((u) => `${u.name}@${u.floorMs}`))
    }
    expect(out).toEqual(['instant@120'])
  })

  it('never samples a partition (the value only grows), nor unbounded reports', () => {
    const f = new StalenessFloor(caps)
    for (let v = 1_000; v < 100_000; v += 500) expect(f.report({ us: v }, true)).toEqual([])
    for (let i = 0; i < 20; i++) expect(f.report({ us: null }, true)).toEqual([])
    expect(f.report({}, true)).toEqual([])
  })

  it('needs enough samples, and starts afresh on a new connection', () => {
    const f = new StalenessFloor(caps)
    for (let i = 0; i < STALENESS_FLOOR_SAMPLES - 1; i++) {
      f.report({ us: 900 }, true)
      expect(f.report({ us: 100 }, true)).toEqual([])
    }
    f.reset()
    f.report({ us: 900 }, true)
    expect(f.report({ us: 100 }, true)).toEqual([])
  })
})
