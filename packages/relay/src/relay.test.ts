import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStorageAdapter, type StorageAdapter } from '@meridian/storage'
import { buildRelay, CLOSE_CODES, type Relay } from '@meridian/relay'
import { RawClient } from '@meridian/testing'

const relays: Relay[] = []
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()))
})

async function start(storage: StorageAdapter = new MemoryStorageAdapter(), extra: Partial<Parameters<typeof buildRelay>[0]> = {}): Promise<{ relay: Relay; url: string; storage: StorageAdapter }> {
  const relay = await buildRelay({ storage, nodeId: 'test-1', region: 'eu', ...extra })
  relays.push(relay)
  const url = await relay.listen({ port: 0, host: '127.0.0.1' })
  return { relay, url, storage }
}

describe('relay http endpoints', () => {
  it('answers /healthz and /readyz', async () => {
    const { relay } = await start()
    expect((await relay.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' })
    const ready = await relay.app.inject({ url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toMatchObject({ status: 'ready', nodeId: 'test-1', region: 'eu' })
  })
})

describe('relay rooms', () => {
  it('syncs, broadcasts and acknowledges an update only after it is in storage', async () => {
    const { url, storage } = await start()
    const a = await RawClient.connect(url, 'doc-1')
    const b = await RawClient.connect(url, 'doc-1')
    await a.next('hello')
    await b.next('sync-step1')
    a.edit((d) => d.getText('t').insert(0, 'hello'))
    const ack = await a.next('ack', (m) => m.upTo >= 2) // step 2 reply + the update
    expect(ack.upTo).toBe(2)
    const stored = await storage.load('doc-1')
    const check = new Y.Doc()
    for (const u of stored?.updates ?? []) Y.applyUpdate(check, u.data)
    expect(check.getText('t').toString()).toBe('hello')
    await b.next('sync-update')
    expect(b.doc.getText('t').toString()).toBe('hello')
    // The sender does not get its own update echoed back.
    expect(a.received.filter((m) => m.type === 'sync-update')).toHaveLength(0)
  })

  it('never sends Meridian messages to a client that did not say hello', async () => {
    const { url } = await start()
    const other = await RawClient.connect(url, 'doc-plain')
    await other.next('sync-step1')
    const plain = await RawClient.connect(url, 'doc-plain', { hello: false })
    await plain.next('sync-step1')
    plain.edit((d) => d.getMap('m').set('k', 1))
    await other.next('sync-update')
    expect(other.doc.getMap('m').get('k')).toBe(1)
    // The plain client's update was committed, yet it gets no ack: it never asked for one.
    plain.send({ type: 'query-awareness' })
    other.edit((d) => d.getMap('m').set('k', 2))
    await plain.next('sync-update')
    expect(plain.received.every((m) => !['hello', 'ack', 'error'].includes(m.type))).toBe(true)
  })

  it('loads lazily, evicts idle documents after flushing, and reloads them intact', async () => {
    const storage = new MemoryStorageAdapter()
    const { relay, url } = await start(storage, { evictIdleAfterMs: 0 })
    const a = await RawClient.connect(url, 'evict-me')
    a.edit((d) => d.getArray('a').push(['x', 'y']))
    await a.next('ack', (m) => m.upTo >= 2)
    expect(relay.rooms.loadedCount).toBe(1)
    await a.close()
    // Eviction is asynchronous (timer, then flush); no event is exposed for it, so poll briefly.
    for (let i = 0; i < 100 && relay.rooms.loadedCount > 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(relay.rooms.loadedCount).toBe(0)
    const b = await RawClient.connect(url, 'evict-me')
    b.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(b.doc) })
    await b.next('sync-step2')
    expect(b.doc.getArray('a').toJSON()).toEqual(['x', 'y'])
  })

  it('compacts stored updates into a snapshot in the background', async () => {
    const storage = new MemoryStorageAdapter()
    const { url } = await start(storage, { compactAfterUpdates: 10 })
    const a = await RawClient.connect(url, 'compact-me')
    for (let i = 0; i < 25; i++) a.edit((d) => d.getText('t').insert(0, String(i % 10)))
    await a.next('ack', (m) => m.upTo >= 26)
    // Compaction runs after the write queue; a fresh load shows it happened.
    let stored = await storage.load('compact-me')
    for (let i = 0; i < 50 && (stored?.snapshot ?? null) === null; i++) {
      await new Promise((r) => setTimeout(r, 10))
      stored = await storage.load('compact-me')
    }
    expect(stored?.snapshot).not.toBeNull()
    const check = new Y.Doc()
    if (stored?.snapshot) Y.applyUpdate(check, stored.snapshot)
    for (const u of stored?.updates ?? []) Y.applyUpdate(check, u.data)
    expect(check.getText('t').toString()).toBe(a.doc.getText('t').toString())
  })

  it('closes only the offending connection on bad input', async () => {
    const { url } = await start()
    const good = await RawClient.connect(url, 'hostile')
    await good.next('sync-step1')

    const text = await RawClient.connect(url, 'hostile')
    text.sendRaw('hello as text')
    expect((await text.closed()).code).toBe(CLOSE_CODES.UNSUPPORTED_DATA)

    const garbage = await RawClient.connect(url, 'hostile')
    garbage.sendRaw(new Uint8Array([0, 9, 9, 9]))
    expect((await garbage.closed()).code).toBe(CLOSE_CODES.INVALID_MESSAGE)
    expect(garbage.received.some((m) => m.type === 'error')).toBe(true)

    const corrupt = await RawClient.connect(url, 'hostile')
    corrupt.send({ type: 'sync-update', update: new Uint8Array([5, 200, 1, 2, 3, 4, 5, 6]) })
    expect((await corrupt.closed()).code).toBe(CLOSE_CODES.INVALID_UPDATE)

    good.edit((d) => d.getText('t').insert(0, 'still fine'))
    await good.next('ack', (m) => m.upTo >= 2)
    expect(good.closeEvent).toBeNull()
  })

  it('closes oversized frames with 1009 and applies nothing of them', async () => {
    const { url, storage } = await start(new MemoryStorageAdapter(), { maxMessageBytes: 4096 })
    const c = await RawClient.connect(url, 'big')
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'x'.repeat(10_000))
    c.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc) })
    expect((await c.closed()).code).toBe(1009)
    expect(await storage.load('big')).toBeNull()
  })

  it('never lets an empty document stand in for one whose load failed', async () => {
    const inner = new MemoryStorageAdapter()
    await inner.append('precious', Y.encodeStateAsUpdate((() => { const d = new Y.Doc(); d.getText('t').insert(0, 'keep'); return d })()))
    let failLoads = true
    const flaky: StorageAdapter = {
      load: (n) => (failLoads ? Promise.reject(new Error('disk on fire')) : inner.load(n)),
      append: (n, u) => inner.append(n, u),
      compact: (n, s, t) => inner.compact(n, s, t),
      remove: (n) => inner.remove(n),
      list: () => inner.list(),
      close: () => inner.close()
    }
    const { url } = await start(flaky)
    const c = await RawClient.connect(url, 'precious')
    expect((await c.closed()).code).toBe(CLOSE_CODES.DOC_LOAD_FAILED)
    failLoads = false
    const d = await RawClient.connect(url, 'precious')
    d.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    await d.next('sync-step2', () => true)
    expect(d.doc.getText('t').toString()).toBe('keep')
    expect((await inner.load('precious'))?.updates).toHaveLength(1)
  })

  it('flushes acknowledged writes on close', async () => {
    const storage = new MemoryStorageAdapter()
    const { relay, url } = await start(storage)
    const c = await RawClient.connect(url, 'flush')
    c.edit((d) => d.getText('t').insert(0, 'a'))
    await c.next('ack', (m) => m.upTo >= 2)
    await relay.close()
    const stored = await storage.load('flush')
    expect(stored?.updates.length).toBeGreaterThan(0)
  })
})

describe('relay storage failures', () => {
  it('a change whose append failed is not acknowledged, and the resend after reconnect reaches storage', async () => {
    const inner = new MemoryStorageAdapter()
    let failNext = false
    const flaky: StorageAdapter = {
      load: (n) => inner.load(n),
      append: (n, u) => {
        if (failNext) {
          failNext = false
          return Promise.reject(new Error('disk full'))
        }
        return inner.append(n, u)
      },
      compact: (n, s, t) => inner.compact(n, s, t),
      remove: (n) => inner.remove(n),
      list: () => inner.list(),
      close: () => inner.close()
    }
    const { url } = await start(flaky)
    const a = await RawClient.connect(url, 'fragile')
    await a.next('sync-step1')
    failNext = true
    a.edit((d) => d.getText('t').insert(0, 'must survive'))
    expect((await a.closed()).code).toBe(CLOSE_CODES.INTERNAL_ERROR)
    expect(a.received.some((m) => m.type === 'ack' && m.upTo >= 2)).toBe(false)
    // The client reconnects and answers the relay's step 1 with what the relay lacks.
    const b = await RawClient.connect(url, 'fragile')
    b.edit((d) => Y.applyUpdate(d, Y.encodeStateAsUpdate(a.doc)))
    const step1 = await b.next('sync-step1')
    expect(Y.decodeStateVector(step1.stateVector).size).toBe(0)
    await b.next('ack', (m) => m.upTo >= 2)
    const stored = await inner.load('fragile')
    const check = new Y.Doc()
    for (const u of stored?.updates ?? []) Y.applyUpdate(check, u.data)
    expect(check.getText('t').toString()).toBe('must survive')
  })
})
