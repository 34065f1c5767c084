import { describe, expect, it } from 'vitest'
import { ClusterViewError, readClusterStatus } from './cluster-view.js'

describe('readClusterStatus', () => {
  it('reads what a relay’s /v1/cluster says about each other region and its links', () => {
    const view = readClusterStatus({
      nodeId: 'eu-1',
      region: 'eu',
      url: 'ws://127.0.0.1:1',
      members: [
        { nodeId: 'eu-1', region: 'eu', linked: false, self: true },
        { nodeId: 'us-1', region: 'us', linked: true },
        { nodeId: 'ap-1', region: 'ap', linked: false }
      ],
      regions: {
        us: { stalenessMs: 412, reachable: true, pendingUpdates: 3, pendingBytes: 120, oldestPendingMs: 80, overflow: 0, lastExchangeStartedAtMs: 5 },
        ap: { stalenessMs: null, reachable: false, pendingUpdates: 0, pendingBytes: 0, oldestPendingMs: null, overflow: 0, lastExchangeStartedAtMs: null }
      },
      links: { 'us-1': { bytesSent: 10 } }
    })
    expect(view).toEqual({
      nodeId: 'eu-1',
      region: 'eu',
      linked: ['us-1'],
      peers: [
        { region: 'ap', reachable: false, stalenessMs: null, pendingUpdates: 0, pendingBytes: 0, oldestPendingMs: null },
        { region: 'us', reachable: true, stalenessMs: 412, pendingUpdates: 3, pendingBytes: 120, oldestPendingMs: 80 }
      ]
    })
  })

  it('reads missing or mistyped fields as unknown (null), and no mesh sections as no peers', () => {
    expect(readClusterStatus({ nodeId: 'a', region: 'r', regions: { q: { stalenessMs: 'soon', reachable: 1 } } }).peers).toEqual([
      { region: 'q', reachable: null, stalenessMs: null, pendingUpdates: null, pendingBytes: null, oldestPendingMs: null }
    ])
    expect(readClusterStatus({ nodeId: 'a', region: 'r' })).toEqual({ nodeId: 'a', region: 'r', linked: [], peers: [] })
    // A relay never lists its own region as a peer.
    expect(readClusterStatus({ nodeId: 'a', region: 'r', regions: { r: {} } }).peers).toEqual([])
  })

  it('refuses a body that is not a relay’s cluster status, with a stable code', () => {
    for (const body of [null, [], 'text', { nodeId: 1, region: 'r' }, { nodeId: 'a' }]) {
      expect(() => readClusterStatus(body)).toThrow(ClusterViewError)
    }
    try {
      readClusterStatus({})
    } catch (err) {
      expect(ClusterViewError.is(err, 'ERR_CLUSTER_SHAPE')).toBe(true)
    }
  })
})
