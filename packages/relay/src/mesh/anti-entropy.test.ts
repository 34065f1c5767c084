import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type MeshOptions, type Relay } from '@meridian/relay'
import { waitUntil } from '@meridian/testing'

const SECRET = 'test-cluster-secret-0123456789'
const relays: Relay[] = []
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()))
})

const FAST: Partial<MeshOptions> = { heartbeatIntervalMs: 50, suspectAfterMs: 400, downAfterMs: 1_000, antiEntropyIntervalMs: 100, redialInitialDelayMs: 20, redialMaxDelayMs: 200 }

async function meshRelay(nodeId: string, region: string, peers: string[], o: { mesh?: Partial<MeshOptions>; storage?: MemoryStorageAdapter; maxDocumentBytes?: number } = {}): Promise<{ relay: Relay; url: string; storage: MemoryStorageAdapter }> {
  const storage = o.storage ?? new MemoryStorageAdapter()
  const relay = await buildRelay({ storage, nodeId, region, ...(o.maxDocumentBytes !== undefined ? { maxDocumentBytes: o.maxDocumentBytes } : {}), mesh: { clusterSecret: SECRET, peers, ...FAST, ...o.mesh } })
  relays.push(relay)
  return { relay, url: await relay.listen({ port: 0, host: '127.0.0.1' }), storage }
}

async function storeText(storage: MemoryStorageAdapter, name: string, text: string): Promise<void> {
  const d = new Y.Doc()
  d.getText('t').insert(0, text)
  await storage.append(name, Y.encodeStateAsUpdate(d))
}

describe('anti-entropy bounds', () => {
  it('anti-entropy skips a document it cannot take and carries on with the round (and does not claim that region fresh)', async () => {
    const storageB = new MemoryStorageAdapter()
    await storeText(storageB, 'big', 'y'.repeat(100 * 1024))
    for (const name of ['small-1', 'small-2']) await storeText(storageB, name, name)
    const a = await meshRelay('a', 'eu', [], { maxDocumentBytes: 64 * 1024 })
    await meshRelay('b', 'us', [a.url], { storage: storageB })
    await waitUntil(async () => (await a.storage.load('small-1')) !== null && (await a.storage.load('small-2')) !== null, 'small documents pulled')
    expect(await a.storage.load('big')).toBeNull()
    expect(a.relay.mesh?.status().antiEntropy.skippedDocs).toBeGreaterThan(0)
    expect(a.relay.mesh?.status().regions.us?.stalenessMs).toBeNull()
  })

  it('buffers at most two diffs\' worth per round: a diff past it is dropped and pulled again alone, and the round still completes', async () => {
    const storageB = new MemoryStorageAdapter()
    // Twelve documents of ~12 KB, each under the 16 KiB limit, together far over 2 × 16 KiB; 1 KiB chunks
    // (one TCP read delivers chunks of several documents at once).
    const names = Array.from({ length: 12 }, (_, i) => `doc-${i}`)
    for (const [i, name] of names.entries()) await storeText(storageB, name, String(i % 10).repeat(12 * 1024))
    const a = await meshRelay('a', 'eu', [], { maxDocumentBytes: 16 * 1024, mesh: { chunkBytes: 1024 } })
    await meshRelay('b', 'us', [a.url], { storage: storageB, mesh: { chunkBytes: 1024 } })
    await waitUntil(async () => (await Promise.all(names.map((n) => a.storage.load(n)))).every((d) => d !== null), 'every document pulled')
    await waitUntil(() => (a.relay.mesh?.status().regions.us?.stalenessMs ?? null) !== null, 'a round completed')
    expect(a.relay.mesh?.status().antiEntropy.repulledDocs).toBeGreaterThan(0)
    expect(a.relay.mesh?.status().antiEntropy.skippedDocs).toBe(0)
  })
})
