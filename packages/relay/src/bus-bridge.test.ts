import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { MemoryStorageAdapter, type StorageAdapter } from '@meridian/storage'
import { MemoryBusHub, type MemoryBus } from '@meridian/bus-redis'
import { buildRelay, type BusBridge, type Relay } from '@meridian/relay'
import { RawClient, waitUntil } from '@meridian/testing'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** One relay's view of the shared storage, counting what this relay appends. */
function countingStorage(shared: StorageAdapter): StorageAdapter & { appends: number } {
  const wrapper = {
    appends: 0,
    load: (name: string) => shared.load(name),
    append: (name: string, update: Uint8Array) => {
      wrapper.appends++
      return shared.append(name, update)
    },
    compact: (name: string, snapshot: Uint8Array, through: number) => shared.compact(name, snapshot, through),
    remove: (name: string) => shared.remove(name),
    list: () => shared.list(),
    close: async () => undefined
  }
  return wrapper
}

interface RegionRelay {
  relay: Relay
  url: string
  bus: MemoryBus
  bridge: BusBridge
  storage: StorageAdapter & { appends: number }
}

/** Relays of one region: one shared storage, one in-memory bus. */
async function region(count: number, extra: Partial<Parameters<typeof buildRelay>[0]> = {}) {
  const shared = new MemoryStorageAdapter()
  const hub = new MemoryBusHub()
  const relays: RegionRelay[] = []
  for (let i = 0; i < count; i++) {
    const nodeId = `r${i}`
    const storage = countingStorage(shared)
    const bus = hub.bus(nodeId)
    const relay = await buildRelay({ storage, nodeId, region: 'eu', bus, busBridge: { catchUpIntervalMs: 0 }, ...extra })
    const bridge = relay.bus as BusBridge
    const url = await relay.listen({ port: 0, host: '127.0.0.1' })
    cleanups.push(async () => {
      await relay.close()
      await bus.close()
    })
    relays.push({ relay, url, bus, bridge, storage })
  }
  return { shared, hub, relays }
}

async function client(url: string, docName: string): Promise<RawClient> {
  const c = await RawClient.connect(url, docName)
  cleanups.push(() => (c.closeEvent === null ? c.close() : undefined))
  await c.next('sync-step1')
  return c
}

async function storedText(storage: StorageAdapter, docName: string, key = 't'): Promise<string> {
  const stored = await storage.load(docName)
  const doc = new Y.Doc()
  if (stored?.snapshot) Y.applyUpdate(doc, stored.snapshot)
  for (const u of stored?.updates ?? []) Y.applyUpdate(doc, u.data)
  return doc.getText(key).toString()
}

describe('attachBus: relays of one region on shared storage', () => {
  it('an edit through one relay reaches the clients of the others; it is stored once and never echoed', async () => {
    const { shared, relays } = await region(3)
    const [a, b, c] = relays as [RegionRelay, RegionRelay, RegionRelay]
    const ca = await client(a.url, 'doc')
    const cb = await client(b.url, 'doc')
    const cc = await client(c.url, 'doc')
    for (let i = 0; i < 5; i++) ca.edit((d) => d.getText('t').insert(d.getText('t').length, `${i}`))
    cb.edit((d) => d.getMap('m').set('from-b', true))
    await waitUntil(() => [ca, cb, cc].every((x) => x.doc.getText('t').toString() === '01234' && x.doc.getMap('m').get('from-b') === true), 'all clients converge')
    await waitUntil(async () => (await storedText(shared, 'doc')) === '01234', 'storage has it')
    // Each relay stored only its own clients' updates (the step-2 replies of empty clients change nothing).
    expect(a.storage.appends).toBe(5)
    expect(b.storage.appends).toBe(1)
    expect(c.storage.appends).toBe(0)
    expect((await shared.load('doc'))?.updates.length).toBe(6)
    // Published once by their relay, received by the two others; nothing published back.
    await waitUntil(() => c.bridge.stats.received === 6, 'c received all six')
    expect(a.bridge.stats.published).toBe(5)
    expect(b.bridge.stats.published).toBe(1)
    expect(c.bridge.stats.published).toBe(0)
    expect(a.bridge.stats.received).toBe(1)
  })

  it('carries awareness between relays, removals included', async () => {
    const { relays } = await region(2)
    const [a, b] = relays as [RegionRelay, RegionRelay]
    const ca = await client(a.url, 'doc')
    const cb = await client(b.url, 'doc')
    const presence = new awarenessProtocol.Awareness(ca.doc)
    presence.setLocalState({ name: 'ada' })
    ca.send({ type: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(presence, [ca.doc.clientID]) })
    const seen = new awarenessProtocol.Awareness(new Y.Doc())
    const apply = (): void => {
      for (const m of cb.received.splice(0)) if (m.type === 'awareness') awarenessProtocol.applyAwarenessUpdate(seen, m.update, 'relay')
    }
    await waitUntil(() => {
      apply()
      return (seen.getStates().get(ca.doc.clientID) as { name?: string } | undefined)?.name === 'ada'
    }, 'b’s client sees a’s presence')
    await ca.close()
    await waitUntil(() => {
      apply()
      return !seen.getStates().has(ca.doc.clientID)
    }, 'and its removal')
    presence.destroy()
    seen.destroy()
  })

  it('after a bus outage the cut relay catches up from storage, and the others learn of its unpublished updates', async () => {
    const { hub, relays } = await region(2)
    const [a, b] = relays as [RegionRelay, RegionRelay]
    const ca = await client(a.url, 'doc')
    const cb = await client(b.url, 'doc')
    ca.edit((d) => d.getMap('m').set('before', 1))
    await waitUntil(() => cb.doc.getMap('m').get('before') === 1, 'live delivery')

    hub.setOnline(b.bus, false)
    ca.edit((d) => d.getMap('m').set('during-a', 1)) // b's bus misses it
    cb.edit((d) => d.getMap('m').set('during-b', 1)) // b cannot publish it
    await cb.next('ack', (m) => m.upTo >= 2)
    await ca.next('ack', (m) => m.upTo >= 3)
    await new Promise((r) => setTimeout(r, 30))
    expect(cb.doc.getMap('m').get('during-a')).toBeUndefined()
    expect(ca.doc.getMap('m').get('during-b')).toBeUndefined()

    hub.setOnline(b.bus, true)
    await waitUntil(
      () => [ca, cb].every((x) => x.doc.getMap('m').get('during-a') === 1 && x.doc.getMap('m').get('during-b') === 1),
      'both sides caught up'
    )
    expect(b.bridge.stats.resyncs).toBeGreaterThan(0)
    expect(a.bridge.stats.resyncs).toBeGreaterThan(0)
    expect(b.bridge.stats.publishFailures).toBe(1)
  })

  it('a bus update that lets waiting structs integrate (e.g. from the mesh) is stored and published', async () => {
    const { shared, relays } = await region(2)
    const [a, b] = relays as [RegionRelay, RegionRelay]
    const ca = await client(a.url, 'doc')
    await client(b.url, 'doc')
    // One author, two causally ordered updates; the second reaches relay b first, from a
    // source whose changes b stores (as the mesh's): it waits there for its dependency.
    const author = new Y.Doc()
    const updates: Uint8Array[] = []
    author.on('update', (u: Uint8Array) => updates.push(u))
    author.getText('t').insert(0, 'a')
    author.getText('t').insert(1, 'b')
    const [first, second] = updates as [Uint8Array, Uint8Array]
    const roomB = b.relay.rooms.getLoaded('doc')
    if (roomB === undefined) throw new Error('doc not loaded on b')
    await roomB.applyUpdate(second, { kind: 'mesh', region: 'another-region', nodeId: 'x-1' })
    expect(roomB.doc.store.pendingStructs).not.toBeNull()
    expect(b.storage.appends).toBe(0) // nothing integrated, nothing stored yet
    Y.applyUpdate(ca.doc, first) // ca is the author of 'a' here
    ca.send({ type: 'sync-update', update: first }) // stored by a, published, applied at b: 'b' integrates there
    await waitUntil(() => roomB.doc.getText('t').toString() === 'ab', 'b integrates both')
    // Without the merge rule 'b' would live in b's memory only: stored by nobody, published to nobody.
    await waitUntil(async () => (await storedText(shared, 'doc')) === 'ab', 'the waiting struct reached storage')
    await waitUntil(() => ca.doc.getText('t').toString() === 'ab', 'and the clients of a')
    expect(b.storage.appends).toBe(1)
  })

  it('stops following a document once its room is evicted, and follows it again when it is loaded', async () => {
    const { relays } = await region(2, { evictIdleAfterMs: 20 })
    const [a, b] = relays as [RegionRelay, RegionRelay]
    const ca = await client(a.url, 'doc')
    const cb = await client(b.url, 'doc')
    await cb.close()
    await waitUntil(() => b.relay.rooms.loadedCount === 0, 'b evicts the idle document')
    const status = (await b.relay.app.inject({ url: '/v1/status' })).json() as { bus?: { documents: number } }
    expect(status.bus?.documents).toBe(0)
    ca.edit((d) => d.getText('t').insert(0, 'x'))
    await ca.next('ack', (m) => m.upTo >= 2)
    await new Promise((r) => setTimeout(r, 30))
    expect(b.bridge.stats.received).toBe(0)
    const again = await client(b.url, 'doc')
    again.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(again.doc) })
    await waitUntil(() => again.doc.getText('t').toString() === 'x', 'reloaded from storage')
    ca.edit((d) => d.getText('t').insert(1, 'y'))
    await waitUntil(() => again.doc.getText('t').toString() === 'xy', 'followed again')
  })
})
