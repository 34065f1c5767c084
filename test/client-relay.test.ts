// The offline-first test reopens a client's (fake) IndexedDB: its classes must be globals.
import 'fake-indexeddb/auto'
import { IDBFactory } from 'fake-indexeddb'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MeridianProvider } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { mintToken } from '@meridian/relay'
import { createTestClient as createClient, NodeWebSocket, startTestRelay as startRelay, storedDoc, type TestRelay } from '@meridian/testing'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})
function track<T extends { destroy(): Promise<void> } | { close(): Promise<void> }>(x: T): T {
  cleanups.push(() => ('destroy' in x ? x.destroy() : x.close()))
  return x
}
async function relay(): Promise<TestRelay> {
  const r = await startRelay()
  track(r.relay)
  return r
}

describe('MeridianProvider with a relay', () => {
  it('loads, syncs, and gets acknowledgements for local edits', async () => {
    const { url, storage } = await relay()
    const a = createClient('doc', { url })
    const b = createClient('doc', { url })
    track(a.provider)
    track(b.provider)
    await Promise.all([a.provider.whenSynced(), b.provider.whenSynced()])
    expect(a.provider.relay?.region).toBe('default')

    const pendingSeen: number[] = []
    a.provider.on('pending', (n) => pendingSeen.push(n))
    a.doc.getText('t').insert(0, 'hi')
    expect(a.provider.pendingCount).toBe(1)
    await a.provider.whenAcknowledged({ timeoutMs: 5_000 })
    expect(pendingSeen).toEqual([1, 0])
    expect((await storedDoc(storage, 'doc')).getText('t').toString()).toBe('hi')
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (b.doc.getText('t').toString() === 'hi') resolve()
      }
      b.doc.on('update', check)
      check()
    })
  })

  it('works offline first: edits are stored locally and reach the relay later', async () => {
    const a = createClient('offline-doc', { urls: [], indexedDB: new IDBFactory() })
    track(a.provider)
    await a.provider.whenLoaded
    a.doc.getMap('m').set('k', 'v')
    await a.provider.whenPersisted()
    expect(a.provider.pendingCount).toBe(1)
    await a.provider.destroy()

    // A fresh provider on the same IndexedDB: the edit and its pending state survive.
    const { url, storage } = await relay()
    const again = createClient('offline-doc', { url, indexedDB: a.indexedDB })
    track(again.provider)
    await again.provider.whenLoaded
    expect(again.doc.getMap('m').get('k')).toBe('v')
    expect(again.provider.pendingCount).toBe(1)
    await again.provider.whenAcknowledged({ timeoutMs: 5_000 })
    expect([...a.errors, ...again.errors]).toEqual([])
    expect((await storedDoc(storage, 'offline-doc')).getMap('m').get('k')).toBe('v')
  })

  it('fails over to the next relay URL and backs off while none answers', async () => {
    const dead = 'ws://127.0.0.1:1' // nothing listens on port 1
    const { url } = await relay()
    const a = createClient('failover', { urls: [dead, url] })
    track(a.provider)
    const statuses: string[] = []
    a.provider.on('status', (e) => statuses.push(`${e.status}@${e.url === url ? 'live' : 'dead'}`))
    await a.provider.whenSynced({ timeoutMs: 5_000 })
    expect(a.provider.url).toBe(url)
    expect(statuses).toContain('disconnected@dead')
    expect(statuses.at(-1)).toBe('connected@live')
  })

  it('rejects waiters on destroy and reports a missing WebSocket as an error event', async () => {
    const doc = new Y.Doc()
    const p = new MeridianProvider({ doc, docName: 'x', url: 'ws://127.0.0.1:1', store: new MemoryClientStore(), WebSocket: undefined })
    const errors: string[] = []
    p.on('error', (e) => errors.push(e.code))
    const synced = p.whenSynced()
    await p.whenLoaded
    await p.destroy()
    await expect(synced).rejects.toMatchObject({ code: 'ERR_DESTROYED' })
    // Node 20 has no global WebSocket; Node 22+ does.
    if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') expect(errors).toContain('ERR_NO_WEBSOCKET')
  })

  it('times out a wait that cannot complete', async () => {
    const a = createClient('timeout', { urls: [] })
    track(a.provider)
    await a.provider.whenLoaded
    a.doc.getText('t').insert(0, 'x')
    await expect(a.provider.whenAcknowledged({ timeoutMs: 50 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' })
  })

  it('keeps the local store bounded: compacts when records pile up', async () => {
    const store = new MemoryClientStore()
    const { url } = await relay()
    const doc = new Y.Doc()
    const p = track(new MeridianProvider({ doc, docName: 'compact', url, store, WebSocket: NodeWebSocket, compactAfterUpdates: 20 }))
    await p.whenSynced()
    for (let i = 0; i < 100; i++) doc.getText('t').insert(0, 'x')
    await p.whenAcknowledged()
    await p.whenPersisted()
    const stored = await store.load('compact')
    expect(stored.updates.length).toBeLessThan(20)
    expect(stored.pending).toHaveLength(0)
    const check = new Y.Doc()
    if (stored.snapshot) Y.applyUpdate(check, stored.snapshot)
    for (const u of stored.updates) Y.applyUpdate(check, u.data)
    expect(check.getText('t').toString()).toBe('x'.repeat(100))
  })
})

describe('MeridianProvider against a relay with authentication', () => {
  it('stops reconnecting on an auth refusal, reports it, and connects after setParams with a valid token', async () => {
    const secret = 'a-32-byte-secret-for-hs256-tests!!'
    const r = await startRelay({ auth: { mode: 'jwt', secret } })
    track(r.relay)
    const a = createClient('private/1', { url: r.url, params: { token: 'not-a-jwt' } })
    track(a.provider)
    const refused = new Promise<string | undefined>((resolve) => a.provider.on('error', (e) => e.code === 'ERR_RELAY' && resolve(e.relayCode)))
    expect(await refused).toBe('ERR_AUTH_INVALID')
    const attempts: string[] = []
    a.provider.on('status', (e) => attempts.push(e.status))
    // No reconnect storm: nothing happens until the app acts (a short window, nothing to wait for).
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(attempts).toEqual([])
    a.provider.setParams({ token: await mintToken({ secret, docs: [{ pattern: 'private/*', access: 'write' }], ttlSeconds: 60 }) })
    a.provider.connect()
    await a.provider.whenSynced({ timeoutMs: 5_000 })
  })
})

describe('MeridianProvider on a document deleted over HTTP', () => {
  it('reports ERR_DOC_DELETED once and stops reconnecting; a fresh provider is refused the same way', async () => {
    const admin = 'admin-token-for-the-delete-test'
    const r = await startRelay({ adminToken: admin })
    track(r.relay)
    // Counts connection attempts; a zero backoff makes any retry immediate (a timer of 0 ms).
    const opened = { a: 0, b: 0 }
    const counting = (key: keyof typeof opened): typeof NodeWebSocket =>
      class extends NodeWebSocket {
        constructor(...args: ConstructorParameters<typeof NodeWebSocket>) {
          super(...args)
          opened[key]++
        }
      }
    const backoff = { initialDelayMs: 0, maxDelayMs: 0, stableAfterMs: 500 }
    const refusedBy = (provider: MeridianProvider): Promise<string[]> => new Promise((resolve) => {
      const codes: string[] = []
      provider.on('error', (e) => {
        if (e.code !== 'ERR_RELAY') return
        codes.push(e.relayCode ?? '')
        resolve(codes)
      })
    })
    const a = createClient('gone', { url: r.url, backoff, WebSocket: counting('a') })
    track(a.provider)
    await a.provider.whenSynced({ timeoutMs: 5_000 })
    a.doc.getText('t').insert(0, 'soon gone')
    await a.provider.whenAcknowledged({ timeoutMs: 5_000 })
    const aErrors = refusedBy(a.provider)
    const res = await fetch(`${r.url.replace(/^ws/, 'http')}/v1/docs/gone`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })
    expect(res.status).toBe(200)
    expect(await aErrors).toEqual(['ERR_DOC_DELETED'])

    const b = createClient('gone', { url: r.url, backoff, WebSocket: counting('b') })
    track(b.provider)
    expect(await refusedBy(b.provider)).toEqual(['ERR_DOC_DELETED'])
    // By the time b was refused over the network, a retry of a (0 ms backoff) or of b would have been made.
    const refused = (await r.relay.metrics.connectionsRefused.get()).values.find((v) => v.labels.reason === 'doc_deleted')
    expect(refused?.value).toBe(1)
    expect(opened).toEqual({ a: 1, b: 1 })
    expect(await aErrors).toEqual(['ERR_DOC_DELETED'])
    expect([a.provider.status, b.provider.status]).toEqual(['disconnected', 'disconnected'])
    expect(a.provider.synced).toBe(false)
  })
})
