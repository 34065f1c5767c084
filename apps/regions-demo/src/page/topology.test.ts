import { describe, expect, it } from 'vitest'
import type { DemoState, RegionView } from '../server/api-types.js'
import { directedLinks, formatMs } from './topology.js'

function region(name: string, peers: Record<string, { stalenessMs: number | null; pendingUpdates: number }>, running = true): RegionView {
  return {
    region: name,
    relayId: `${name}-1`,
    wsUrl: 'ws://127.0.0.1:1',
    running,
    error: running ? null : 'killed',
    mesh: running
      ? { nodeId: `${name}-1`, region: name, linked: [], peers: Object.entries(peers).map(([r, p]) => ({ region: r, reachable: true, pendingBytes: p.pendingUpdates * 10, oldestPendingMs: null, ...p })) }
      : null
  }
}

describe('directedLinks', () => {
  const state = (cuts: DemoState['cuts'], apRunning = true): DemoState => ({
    docName: 'd',
    readAtMs: 0,
    cuts,
    regions: [
      region('eu', { us: { stalenessMs: 300, pendingUpdates: 4 }, ap: { stalenessMs: 200, pendingUpdates: 0 } }),
      region('us', { eu: { stalenessMs: 9_000, pendingUpdates: 0 }, ap: { stalenessMs: 100, pendingUpdates: 0 } }),
      region('ap', { eu: { stalenessMs: 150, pendingUpdates: 0 }, us: { stalenessMs: null, pendingUpdates: 0 } }, apRunning)
    ]
  })

  it('gives each direction the receiver’s lag and the sender’s backlog', () => {
    const links = directedLinks(state([]), 3_000)
    expect(links).toHaveLength(6)
    const euToUs = links.find((l) => l.from === 'eu' && l.to === 'us')
    expect(euToUs).toMatchObject({ lagMs: 9_000, backlogUpdates: 4, backlogBytes: 40, cut: false, state: 'lagging' })
    expect(links.find((l) => l.from === 'us' && l.to === 'eu')).toMatchObject({ lagMs: 300, backlogUpdates: 0, state: 'ok' })
    // Never exchanged: unbounded, shown as lagging.
    expect(links.find((l) => l.from === 'us' && l.to === 'ap')).toMatchObject({ lagMs: null, state: 'lagging' })
  })

  it('marks cut directions, and every direction touching a killed relay as down', () => {
    const links = directedLinks(state([{ from: 'eu', to: 'us' }], false), 3_000)
    expect(links.find((l) => l.from === 'eu' && l.to === 'us')?.state).toBe('cut')
    expect(links.find((l) => l.from === 'us' && l.to === 'eu')?.state).toBe('ok')
    expect(links.filter((l) => l.from === 'ap' || l.to === 'ap').every((l) => l.state === 'relay-down')).toBe(true)
  })

  it('formats durations for the labels', () => {
    expect([formatMs(null), formatMs(412.4), formatMs(5_630), formatMs(250_000)]).toEqual(['∞', '412 ms', '5.6 s', '250 s'])
  })
})
