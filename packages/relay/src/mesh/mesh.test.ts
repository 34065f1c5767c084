import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type MeshOptions, type Relay } from '@meridian/relay'
import { startFaultProxy, partitionPair, healAll, freePort, RawClient, waitUntil, type FaultProxy } from '@meridian/testing'

const SECRET = 'test-cluster-secret-0123456789'
const relays: Relay[] = []
const proxies: FaultProxy[] = []
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()))
  await Promise.all(proxies.splice(0).map((p) => p.close()))
})

const FAST: Partial<MeshOptions> = { heartbeatIntervalMs: 50, suspectAfterMs: 400, downAfterMs: 1_000, antiEntropyIntervalMs: 100, redialInitialDelayMs: 20, redialMaxDelayMs: 200 }

async function meshRelay(nodeId: string, region: string, peers: string[], extra: Partial<MeshOptions> = {}, storage = new MemoryStorageAdapter()): Promise<{ relay: Relay; url: string; storage: MemoryStorageAdapter }> {
  const relay = await buildRelay({ storage, nodeId, region, mesh: { clusterSecret: SECRET, peers, ...FAST, ...extra } })
  relays.push(relay)
  const url = await relay.listen({ port: 0, host: '127.0.0.1' })
  return { relay, url, storage }
}

async function readText(url: string, docName: string): Promise<string> {
  const c = await RawClient.connect(url, docName)
  c.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
  await c.next('sync-step2')
  await c.close()
  return c.doc.getText('t').toString()
}

function linked(relay: Relay, n: number): boolean {
  return (relay.mesh?.status().members.filter((m) => m.linked).length ?? 0) === n
}

describe('relay mesh', () => {
  it('learns the whole mesh from a single seed', async () => {
    const a = await meshRelay('a', 'eu', [])
    const b = await meshRelay('b', 'us', [a.url])
    const c = await meshRelay('c', 'ap', [b.url])
    const d = await meshRelay('d', 'eu', [c.url])
    for (const r of [a, b, c, d]) await waitUntil(() => linked(r.relay, 3), `${r.relay.options.nodeId} linked to all`)
    const status = d.relay.mesh?.status()
    expect(status?.members.map((m) => m.nodeId)).toEqual(['a', 'b', 'c', 'd'])
    expect(status?.members.every((m) => m.self || m.state === 'alive')).toBe(true)
    const cluster = (await a.relay.app.inject({ url: '/v1/cluster' })).json() as { members: { nodeId: string; region: string }[] }
    expect(cluster.members.map((m) => `${m.nodeId}@${m.region}`)).toEqual(['a@eu', 'b@us', 'c@ap', 'd@eu'])
  })

  it('refuses links without the cluster secret', async () => {
    const a = await meshRelay('a', 'eu', [])
    const intruder = await buildRelay({ storage: new MemoryStorageAdapter(), nodeId: 'x', region: 'eu', mesh: { clusterSecret: 'another-secret-0123456789', peers: [a.url], ...FAST } })
    relays.push(intruder)
    await intruder.listen({ port: 0, host: '127.0.0.1' })
    await waitUntil(() => (a.relay.mesh?.status().refusedLinks['bad-proof'] ?? 0) > 0, 'a refused the intruder')
    expect(a.relay.mesh?.status().members.map((m) => m.nodeId)).toEqual(['a'])
    expect(intruder.mesh?.status().members.map((m) => m.nodeId)).toEqual(['x'])
  })

  it('pushes an update to every region, each link carrying it at most once, in a cycle A–B–C–A', async () => {
    const a = await meshRelay('a', 'eu', [], { antiEntropyIntervalMs: 60_000 })
    const b = await meshRelay('b', 'us', [a.url], { antiEntropyIntervalMs: 60_000 })
    const c = await meshRelay('c', 'ap', [a.url, b.url], { antiEntropyIntervalMs: 60_000 })
    for (const r of [a, b, c]) await waitUntil(() => linked(r.relay, 2), 'full mesh')
    const writer = await RawClient.connect(a.url, 'doc')
    await writer.next('sync-step1')
    for (let i = 0; i < 20; i++) writer.edit((d) => d.getText('t').insert(0, 'x'))
    await writer.next('ack', (m) => m.upTo >= 21)
    await waitUntil(async () => (await readText(b.url, 'doc')) === 'x'.repeat(20) && (await readText(c.url, 'doc')) === 'x'.repeat(20), 'update everywhere')
    // Each update crossed a→b and a→c once; b and c forwarded nothing (no other relay in their regions).
    const sent = (r: Relay): Record<string, number> => Object.fromEntries(Object.entries(r.mesh?.linkStats() ?? {}).map(([peer, s]) => [peer, s.messagesSent['mesh-update'] ?? 0]))
    expect(sent(a.relay)).toEqual({ b: 20, c: 20 })
    expect(sent(b.relay)).toEqual({ a: 0, c: 0 })
    expect(sent(c.relay)).toEqual({ a: 0, b: 0 })
    // And replication is tracked: both other regions acknowledged every write.
    await waitUntil(() => Object.values(a.relay.mesh?.status().regions ?? {}).every((r) => r.pendingUpdates === 0), 'acks from both regions')
  })

  it('fans a pushed update out inside the receiving region, once', async () => {
    const a = await meshRelay('a', 'eu', [], { antiEntropyIntervalMs: 60_000 })
    const b1 = await meshRelay('b1', 'us', [a.url], { antiEntropyIntervalMs: 60_000 })
    const b2 = await meshRelay('b2', 'us', [a.url], { antiEntropyIntervalMs: 60_000 })
    for (const r of [a, b1, b2]) await waitUntil(() => linked(r.relay, 2), 'full mesh')
    const writer = await RawClient.connect(a.url, 'doc')
    await writer.next('sync-step1')
    writer.edit((d) => d.getText('t').insert(0, 'hello'))
    await waitUntil(async () => (await readText(b2.url, 'doc')) === 'hello', 'reached b2')
    const s = (r: Relay, peer: string): number => r.mesh?.linkStats()[peer]?.messagesSent['mesh-update'] ?? 0
    // a pushes to one relay of region us (b1, the smaller id), which forwards to b2.
    expect([s(a.relay, 'b1'), s(a.relay, 'b2'), s(b1.relay, 'b2'), s(b2.relay, 'b1')]).toEqual([1, 0, 1, 0])
  })

  it('anti-entropy brings over a document no client in the other region ever opened', async () => {
    const storageA = new MemoryStorageAdapter()
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'written while apart')
    await storageA.append('quiet-doc', Y.encodeStateAsUpdate(doc))
    const a = await meshRelay('a', 'eu', [], {}, storageA)
    const b = await meshRelay('b', 'us', [a.url])
    await waitUntil(async () => (await b.storage.load('quiet-doc')) !== null, 'document pulled into b', 5_000)
    expect(await readText(b.url, 'quiet-doc')).toBe('written while apart')
    // Both relays completed exchanges: staleness towards the other region is bounded.
    await waitUntil(() => (b.relay.mesh?.status().regions.eu?.stalenessMs ?? null) !== null, 'b exchanged with eu')
    await waitUntil(() => (a.relay.mesh?.status().regions.us?.stalenessMs ?? null) !== null, 'a exchanged with us')
  })

  it('repairs by anti-entropy what a partition kept from being pushed, on a mesh whose digests started empty', async () => {
    const nodes = new Map<string, FaultProxy>()
    const urls: string[] = []
    for (const [id, region] of [['a', 'eu'], ['b', 'us']] as const) {
      const port = await freePort()
      const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port } })
      proxies.push(proxy)
      nodes.set(id, proxy)
      const relay = await buildRelay({ storage: new MemoryStorageAdapter(), nodeId: id, region, mesh: { clusterSecret: SECRET, advertiseUrl: proxy.url, peers: urls.length > 0 ? [nodes.get('a')?.url as string] : [], ...FAST } })
      relays.push(relay)
      urls.push(await relay.listen({ port, host: '127.0.0.1' }))
    }
    const [a, b] = relays as [Relay, Relay]
    // Rounds over an empty mesh complete first (this once froze the digest index).
    await waitUntil(() => (b.mesh?.status().regions.eu?.stalenessMs ?? null) !== null, 'an empty round completed')
    partitionPair(nodes, 'a', 'b')
    const writer = await RawClient.connect(urls[0] as string, 'written-apart')
    await writer.next('sync-step1')
    writer.edit((d) => d.getText('t').insert(0, 'during the partition'))
    await writer.next('ack', (m) => m.upTo >= 2)
    healAll(nodes)
    await waitUntil(async () => (await readText(urls[1] as string, 'written-apart')) === 'during the partition', 'repaired in b', 10_000)
    expect(a.mesh?.status().regions.us?.reachable).toBe(true)
  })
})
