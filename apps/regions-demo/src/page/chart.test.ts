import { describe, expect, it } from 'vitest'
import { axisMaxMs } from './chart.js'

describe('axisMaxMs (the staleness chart’s y-axis)', () => {
  const series = (points: [number, number | null][]) => [{ region: 'eu', color: '#000', samples: points.map(([atMs, boundMs]) => ({ atMs, boundMs, mode: 'healthy' as const })) }]

  it('shows at least twice T, so the T line sits low when all is well', () => {
    expect(axisMaxMs(series([[100, 400]]), 0, 3_000)).toBe(6_000)
  })

  it('leaves room above the highest visible bound, rounded up to a whole second, ignoring unbounded and scrolled-out points', () => {
    expect(axisMaxMs(series([[100, 9_200]]), 0, 3_000)).toBe(11_000)
    expect(axisMaxMs(series([[100, null], [200, 1_000]]), 0, 3_000)).toBe(6_000)
    expect(axisMaxMs(series([[-5, 60_000], [200, 1_000]]), 0, 3_000)).toBe(6_000)
  })
})
