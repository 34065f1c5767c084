import { afterEach, describe, expect, it } from 'vitest'
import { FEATURE_ACKS, FEATURE_STATUS } from '@meridian/protocol'
import { MemoryStorageAdapter, type StoredMeshMember } from '@meridian/storage'
import type { MeshOptions, Relay } from '@meridian/relay'
import { RawClient, waitUntil } from '@meridian/testing'
import { relayPool } from '../test-support/helpers.js'

const SECRET = 'test-cluster-secret-0123456789'
const FAST: Partial<MeshOptions> = { heartbeatIntervalMs: 50, suspectAfterMs: 400, downAfterMs: 1_000, antiEntropyIntervalMs: 100, redialInitialDelayMs: 20, redialMaxDelayMs: 200 }

interface HeldSave {
  members: readonly StoredMeshMember[]
  commit: () => void
  fail: (err: Error) => void
}

/** Saves naming a member of `heldRegion` wait for the test to commit or fail them; any other save commits at once. */
class HeldSaves extends MemoryStorageAdapter {
  private readonly held: HeldSave[] = []
  private readonly waiters: ((h: HeldSave) => void)[] = []

  constructor(private readonly heldRegion: string) {
    super()
  }

  override saveMeshMembers(observer: string, members: readonly StoredMeshMember[]): Promise<void> {
    if (!members.some((m) => m.region === this.heldRegion)) return super.saveMeshMembers(observer, members)
    return new Promise((resolve, reject) => {
      const h: HeldSave = { members, commit: () => void super.saveMeshMembers(observer, members).then(resolve, reject), fail: reject }
      const waiter = this.waiters.shift()
      if (waiter !== undefined) waiter(h)
      else this.held.push(h)
    })
  }

  /** The next held save, once the relay attempts it. */
  nextHeld(): Promise<HeldSave> {
    const h = this.held.shift()
    return h !== undefined ? Promise.resolve(h) : new Promise((resolve) => this.waiters.push(resolve))
  }
}

const pool = relayPool()
afterEach(() => pool.closeAll())

async function clientRegions(url: string): Promise<Record<string, number | null>> {
  const c = await RawClient.connect(url, 'doc', { features: FEATURE_ACKS | FEATURE_STATUS })
  c.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
  const status = await c.next('status')
  await c.close()
  return status.regions
}

const eu = (relay: Relay): { stalenessMs: number | null; lastExchangeStartedAtMs: number | null } | undefined => relay.mesh?.status().regions.eu

describe('a newly learned region and the relay\'s storage', () => {
  it('gets no staleness bound until a member of it is stored; a failed save is logged, keeps it unbounded and is retried', async () => {
    const a = await pool.start({ nodeId: 'a', region: 'eu', mesh: { clusterSecret: SECRET, peers: [], ...FAST } })
    const storage = new HeldSaves('eu')
    const c = await pool.start({ nodeId: 'c', region: 'ap', storage, captureLogs: true, mesh: { clusterSecret: SECRET, peers: [a.url], ...FAST } })

    const first = await storage.nextHeld()
    expect(first.members.map((m) => `${m.nodeId}@${m.region}`)).toEqual(['a@eu', 'c@ap'])
    // An exchange with eu completes while the member is not stored: no bound, to anyone.
    await waitUntil(() => (eu(c.relay)?.lastExchangeStartedAtMs ?? null) !== null, 'c exchanged with eu')
    expect(eu(c.relay)?.stalenessMs).toBeNull()
    expect(await clientRegions(c.url)).toEqual({ eu: null })

    first.fail(new Error('disk full'))
    const retry = await storage.nextHeld()
    expect(c.logs.some((l) => l.includes('cannot save mesh members') && l.includes('"level":50'))).toBe(true)
    expect(eu(c.relay)?.stalenessMs).toBeNull()
    expect(await clientRegions(c.url)).toEqual({ eu: null })

    retry.commit()
    await waitUntil(() => (eu(c.relay)?.stalenessMs ?? null) !== null, 'a bound once the member is stored')
    expect((await storage.loadMeshMembers()).map((m) => `${m.nodeId}@${m.region}`)).toEqual(['a@eu', 'c@ap'])
    expect(await clientRegions(c.url)).toMatchObject({ eu: expect.any(Number) })
  })
})
