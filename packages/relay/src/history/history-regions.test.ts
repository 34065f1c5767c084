import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type MeshOptions, type Relay } from '@meridian/relay'
import { freePort, waitUntil } from '@meridian/testing'
import { ADMIN } from '../test-support/helpers.js'

const CLUSTER = 'test-cluster-secret-0123456789'
const FAST: Partial<MeshOptions> = { heartbeatIntervalMs: 50, suspectAfterMs: 400, downAfterMs: 1_000, antiEntropyIntervalMs: 100, redialInitialDelayMs: 20, redialMaxDelayMs: 200 }
const relays: Relay[] = []
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()))
})

async function region(nodeId: string, name: string, peers: string[]): Promise<{ relay: Relay; url: string; base: string }> {
  const port = await freePort()
  const advertiseUrl = `ws://127.0.0.1:${port}`
  const relay = await buildRelay({ storage: new MemoryStorageAdapter(), nodeId, region: name, adminToken: ADMIN, history: { autoVersions: false }, mesh: { clusterSecret: CLUSTER, peers, advertiseUrl, ...FAST } })
  relays.push(relay)
  const url = await relay.listen({ port, host: '127.0.0.1' })
  return { relay, url, base: url.replace(/^ws/, 'http') }
}

const headers = { authorization: `Bearer ${ADMIN}` }
const text = (s: string): Uint8Array<ArrayBuffer> => {
  const d = new Y.Doc()
  d.getText('content').insert(0, s)
  return new Uint8Array(Y.encodeStateAsUpdate(d))
}

describe('version writes over HTTP across regions', () => {
  it('creating and restoring a version wait for ?waitFor=replicated:1 and answer the durability reached', async () => {
    const eu = await region('eu-1', 'eu', [])
    const us = await region('us-1', 'us', [eu.url])
    await waitUntil(() => eu.relay.mesh?.otherRegions.length === 1 && us.relay.mesh?.otherRegions.length === 1, 'regions linked')
    expect((await fetch(`${eu.base}/v1/docs/plan`, { method: 'PUT', headers, body: text('first draft') })).status).toBe(201)

    const created = await fetch(`${eu.base}/v1/docs/plan/versions?waitFor=replicated:1&timeoutMs=10000`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ label: 'draft' })
    })
    expect(created.status).toBe(201)
    const body = (await created.json()) as { version: { id: string }; durability: unknown; regions: unknown; waitFor: unknown }
    expect(body).toMatchObject({ durability: { replicated: 1 }, regions: { held: 1, total: 1 }, waitFor: { replicated: 1, satisfied: true } })
    // Replicated means the other region lists it now, without waiting.
    const listed = (await (await fetch(`${us.base}/v1/docs/plan/versions`, { headers })).json()) as { versions: { id: string }[] }
    expect(listed.versions.map((v) => v.id)).toEqual([body.version.id])

    const edit = await fetch(`${eu.base}/v1/docs/plan/updates?waitFor=replicated:1&timeoutMs=10000`, {
      method: 'POST', headers, body: new Uint8Array(Y.encodeStateAsUpdate(((): Y.Doc => {
        const d = new Y.Doc()
        d.getText('content').insert(0, 'x')
        return d
      })()))
    })
    expect(edit.status).toBe(200)
    const restored = await fetch(`${eu.base}/v1/docs/plan/versions/${body.version.id}/restore?waitFor=replicated:1&timeoutMs=10000`, { method: 'POST', headers })
    expect(restored.status).toBe(200)
    expect(await restored.json()).toMatchObject({ restored: body.version.id, durability: { replicated: 1 }, regions: { held: 1, total: 1 }, waitFor: { replicated: 1, satisfied: true } })
    const json = (await (await fetch(`${us.base}/v1/docs/plan/json`, { headers })).json()) as { data: unknown }
    expect(json.data).toEqual({ content: 'first draft' })
    expect(((await (await fetch(`${us.base}/v1/docs/plan/versions`, { headers })).json()) as { versions: { kind: string }[] }).versions.map((v) => v.kind)).toEqual(['named', 'pre-restore'])
  })
})
