import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { CLOSE_CODES, FEATURE_ACKS } from '@meridian/protocol'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type MeshOptions, type Relay } from '@meridian/relay'
import { RawClient, freePort, startFaultProxy, waitUntil, type FaultProxy } from '@meridian/testing'
import { ADMIN } from '../test-support/helpers.js'

const CLUSTER = 'test-cluster-secret-0123456789'
const FAST: Partial<MeshOptions> = { heartbeatIntervalMs: 50, suspectAfterMs: 400, downAfterMs: 1_000, antiEntropyIntervalMs: 100, redialInitialDelayMs: 20, redialMaxDelayMs: 200 }
const relays: Relay[] = []
const proxies: FaultProxy[] = []
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()))
  await Promise.all(proxies.splice(0).map((p) => p.close()))
})

interface Region { relay: Relay; url: string; base: string; storage: MemoryStorageAdapter; proxy: FaultProxy }

/** A relay behind a fault proxy that its mesh peers dial (clients connect to the relay directly). */
async function region(nodeId: string, name: string, peers: string[]): Promise<Region> {
  const port = await freePort()
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port }, name: nodeId })
  proxies.push(proxy)
  const storage = new MemoryStorageAdapter()
  const relay = await buildRelay({ storage, nodeId, region: name, adminToken: ADMIN, statusIntervalMs: 50, mesh: { clusterSecret: CLUSTER, peers, advertiseUrl: proxy.url, ...FAST } })
  relays.push(relay)
  const url = await relay.listen({ port, host: '127.0.0.1' })
  return { relay, url, base: url.replace(/^ws/, 'http'), storage, proxy }
}

const headers = { authorization: `Bearer ${ADMIN}` }
const text = (s: string): Uint8Array<ArrayBuffer> => {
  const d = new Y.Doc()
  d.getText('content').insert(0, s)
  return new Uint8Array(Y.encodeStateAsUpdate(d))
}
const status = async (base: string, name: string): Promise<number> => (await fetch(`${base}/v1/docs/${name}/json`, { headers })).status
const linked = (r: Region): boolean => (r.relay.mesh?.status().members ?? []).some((m) => m.linked)

describe('HTTP document API across regions', () => {
  it('an HTTP write reaches the clients of another region, and reports the regions that hold it', async () => {
    const eu = await region('eu-1', 'eu', [])
    const us = await region('us-1', 'us', [eu.proxy.url])
    await waitUntil(() => linked(eu) && linked(us) && eu.relay.mesh?.otherRegions.length === 1, 'regions linked')
    const client = await RawClient.connect(us.url, 'board', { features: FEATURE_ACKS })
    client.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    await client.next('sync-step2')

    const res = await fetch(`${eu.base}/v1/docs/board/updates?waitFor=replicated:1&timeoutMs=10000`, { method: 'POST', headers, body: text('from the backend') })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ changed: true, durability: { replicated: 1 }, regions: { held: 1, total: 1 }, waitFor: { replicated: 1, satisfied: true } })
    await waitUntil(() => client.doc.getText('content').toString() === 'from the backend', 'the client of the other region got the write')
    const json = (await (await fetch(`${us.base}/v1/docs/board/json`, { headers })).json()) as { data: unknown }
    expect(json.data).toEqual({ content: 'from the backend' })
    await client.close()
  })

  it('a document deleted in one region during a partition stays deleted after it heals, whatever the other region wrote meanwhile', async () => {
    const eu = await region('eu-1', 'eu', [])
    const us = await region('us-1', 'us', [eu.proxy.url])
    await waitUntil(() => linked(eu) && linked(us), 'regions linked')
    expect((await fetch(`${us.base}/v1/docs/plan`, { method: 'PUT', headers, body: text('v1') })).status).toBe(201)
    expect((await fetch(`${us.base}/v1/docs/keep`, { method: 'PUT', headers, body: text('kept') })).status).toBe(201)
    await waitUntil(async () => (await status(eu.base, 'plan')) === 200 && (await status(eu.base, 'keep')) === 200, 'eu has both documents')

    const usClient = await RawClient.connect(us.url, 'plan', { features: FEATURE_ACKS })
    usClient.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    await usClient.next('sync-step2')
    // Partition: every mesh byte between the regions is dropped (clients still reach their relay).
    eu.proxy.partition('us-1')
    us.proxy.partition('eu-1')
    await waitUntil(() => !linked(eu) && !linked(us), 'links dropped')

    expect((await fetch(`${eu.base}/v1/docs/plan`, { method: 'DELETE', headers })).status).toBe(200)
    // us has not heard: its client keeps writing, and it is acknowledged there.
    usClient.edit((d) => d.getText('content').insert(0, 'written during the partition '))
    await usClient.next('ack')

    eu.proxy.heal()
    us.proxy.heal()
    // us learns the deletion from the tombstone in eu's digest: its client is closed, the document gone.
    expect(await usClient.closed(15_000)).toEqual({ code: CLOSE_CODES.DOC_DELETED, reason: 'ERR_DOC_DELETED' })
    await waitUntil(async () => (await status(us.base, 'plan')) === 410, 'us deleted it too')
    expect(await us.storage.load('plan')).toBeNull()
    // Several more rounds: eu did not pull it back, and a client coming back to us with its copy is refused.
    const roundsBefore = eu.relay.mesh?.status().regions.us?.lastExchangeStartedAtMs ?? 0
    await waitUntil(() => (eu.relay.mesh?.status().regions.us?.lastExchangeStartedAtMs ?? 0) > roundsBefore + 300, 'more anti-entropy rounds')
    const back = await RawClient.connect(us.url, 'plan', { features: FEATURE_ACKS })
    back.send({ type: 'sync-step2', update: Y.encodeStateAsUpdate(usClient.doc) })
    expect(await back.closed()).toEqual({ code: CLOSE_CODES.DOC_DELETED, reason: 'ERR_DOC_DELETED' })
    expect(await status(eu.base, 'plan')).toBe(410)
    expect(await eu.storage.load('plan')).toBeNull()
    expect(await status(eu.base, 'keep')).toBe(200)
    expect(await status(us.base, 'keep')).toBe(200)
    // Both regions agree again (the tombstone is one digest entry on each side).
    const listed = (await (await fetch(`${eu.base}/v1/docs`, { headers })).json()) as { documents: { name: string }[] }
    expect(listed.documents.map((d) => d.name)).toEqual(['keep'])
  })
})
