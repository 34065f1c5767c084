import { afterEach, describe, expect, it } from 'vitest'
import { FEATURE_ACKS, FEATURE_STATUS } from '@meridian/protocol'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type MeshOptions, type Relay } from '@meridian/relay'
import { RawClient, freePort, waitUntil } from '@meridian/testing'

const SECRET = 'test-cluster-secret-0123456789'
const relays: Relay[] = []
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()))
})

const FAST: Partial<MeshOptions> = { heartbeatIntervalMs: 50, suspectAfterMs: 400, downAfterMs: 1_000, antiEntropyIntervalMs: 100, redialInitialDelayMs: 20, redialMaxDelayMs: 200 }

async function start(nodeId: string, region: string, peers: string[], storage: MemoryStorageAdapter, port = 0): Promise<{ relay: Relay; url: string }> {
  const relay = await buildRelay({ storage, nodeId, region, statusIntervalMs: 50, mesh: { clusterSecret: SECRET, peers, ...FAST } })
  relays.push(relay)
  return { relay, url: await relay.listen({ port, host: '127.0.0.1' }) }
}

async function clientStatus(url: string): Promise<Record<string, number | null>> {
  const c = await RawClient.connect(url, 'doc', { features: FEATURE_ACKS | FEATURE_STATUS })
  c.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
  const status = await c.next('status')
  await c.close()
  return status.regions
}

describe('regions a relay knows of', () => {
  it('survive a restart (remembered in storage) and are reported unknown until an exchange completes, also to clients', async () => {
    const storageA = new MemoryStorageAdapter()
    const storageC = new MemoryStorageAdapter()
    const portA = await freePort()
    const a = await start('a', 'eu', [], storageA, portA)
    const c = await start('c', 'ap', [a.url], storageC)
    await waitUntil(() => (c.relay.mesh?.status().regions.eu?.stalenessMs ?? null) !== null, 'c exchanged with eu')
    expect(await clientStatus(c.url)).toMatchObject({ eu: expect.any(Number) })
    expect((await storageC.loadMeshMembers()).map((m) => `${m.nodeId}@${m.region}`)).toEqual(['a@eu', 'c@ap'])

    // Both go down; c comes back alone (a unreachable): it still knows region eu, and says it cannot bound it.
    await c.relay.close()
    await a.relay.close()
    relays.splice(0)
    const c2 = await start('c', 'ap', [a.url], storageC)
    const status = c2.relay.mesh?.status()
    expect(status?.regions.eu).toMatchObject({ stalenessMs: null, reachable: false, lastExchangeStartedAtMs: null })
    expect(await clientStatus(c2.url)).toEqual({ eu: null })

    // a returns on its address: an exchange completes and the bound is back.
    await start('a', 'eu', [], storageA, portA)
    await waitUntil(() => (c2.relay.mesh?.status().regions.eu?.stalenessMs ?? null) !== null, 'c exchanged with eu again')
    await waitUntil(async () => typeof (await clientStatus(c2.url)).eu === 'number', 'clients see a bound again')
  })
})
