import * as fake from 'fake-indexeddb'
import { afterEach, describe, expect, it, vi } from 'vitest'
import * as Y from 'yjs'
import { MeridianProvider, type ClientStore } from './index.js'
import { MemoryClientStore, indexedDbStore, openIdbClientStore } from './store.js'
import { crossTabChannelName, crossTabSharing } from './cross-tab.js'

// The IndexedDB store checks that the IndexedDB classes are globals.
for (const name of ['IDBRequest', 'IDBOpenDBRequest', 'IDBTransaction', 'IDBDatabase', 'IDBObjectStore', 'IDBIndex', 'IDBCursor', 'IDBCursorWithValue', 'IDBKeyRange'] as const) {
  vi.stubGlobal(name, fake[name])
}

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

let docCounter = 0
const uniqueDoc = (): string => `cross-tab-${process.pid}-${++docCounter}`

/** A "tab": a provider on a store shared with the other tabs of the same "origin". */
function tab(docName: string, store: () => Promise<ClientStore>): { provider: MeridianProvider; doc: Y.Doc } {
  const doc = new Y.Doc()
  const provider = new MeridianProvider({ doc, docName, store, crossTab: true, crossTabSharing })
  cleanups.push(() => provider.destroy())
  return { provider, doc }
}

/** Resolves when `check` holds, re-checked on every change of `doc`. */
function until(doc: Y.Doc, check: () => boolean): Promise<void> {
  return vi.waitFor(() => expect(check()).toBe(true), { timeout: 5_000, interval: 5 })
}

/** Every message on a document's channel, as another listener sees them. */
function spyChannel(docName: string): unknown[] {
  const seen: unknown[] = []
  const channel = new BroadcastChannel(crossTabChannelName(docName))
  channel.onmessage = (e) => seen.push(e.data)
  cleanups.push(() => channel.close())
  return seen
}

describe('cross-tab sharing over BroadcastChannel', () => {
  it('tabs see each other’s edits without a relay; only the editing tab stores and queues an edit', async () => {
    const factory = new fake.IDBFactory()
    const shared = () => openIdbClientStore({ indexedDB: factory })
    const docName = uniqueDoc()
    const a = tab(docName, shared)
    const b = tab(docName, shared)
    await Promise.all([a.provider.whenLoaded, b.provider.whenLoaded])
    expect(a.provider.crossTabEnabled).toBe(true)

    a.doc.getText('t').insert(0, 'from a. ')
    await until(b.doc, () => b.doc.getText('t').toString() === 'from a. ')
    b.doc.getText('t').insert(8, 'from b.')
    await until(a.doc, () => a.doc.getText('t').toString() === 'from a. from b.')

    // Each tab queued only its own edit for the relay…
    expect(a.provider.pendingCount).toBe(1)
    expect(b.provider.pendingCount).toBe(1)
    await Promise.all([a.provider.whenPersisted(), b.provider.whenPersisted()])
    // …and the shared store holds each edit once, pending once.
    const check = await shared()
    const stored = await check.load(docName)
    await check.close()
    expect(stored.updates).toHaveLength(2)
    expect(stored.pending).toHaveLength(2)
    const reloaded = new Y.Doc()
    for (const u of stored.updates) Y.applyUpdate(reloaded, u.data)
    expect(reloaded.getText('t').toString()).toBe('from a. from b.')
  })

  it('an edit is posted once and never echoed back by the receiving tabs', async () => {
    const docName = uniqueDoc()
    const seen = spyChannel(docName)
    const tabs = [tab(docName, async () => new MemoryClientStore()), tab(docName, async () => new MemoryClientStore()), tab(docName, async () => new MemoryClientStore())]
    await Promise.all(tabs.map((t) => t.provider.whenLoaded))
    const [first, second, third] = tabs
    if (first === undefined || second === undefined || third === undefined) throw new Error('three tabs')
    await vi.waitFor(() => expect(seen.filter((m) => (m as { kind: string }).kind === 'step1').length).toBeGreaterThan(0))
    seen.length = 0

    first.doc.getMap('m').set('k', 'v')
    await until(third.doc, () => third.doc.getMap('m').get('k') === 'v' && second.doc.getMap('m').get('k') === 'v')
    // A round trip on the channel, so anything echoed would have arrived by now.
    await new Promise<void>((resolve) => {
      const probe = new BroadcastChannel(crossTabChannelName(docName))
      const back = new BroadcastChannel(crossTabChannelName(docName))
      back.onmessage = () => {
        probe.close()
        back.close()
        resolve()
      }
      probe.postMessage('probe')
    })
    const updates = seen.filter((m) => (m as { kind?: string }).kind === 'update')
    expect(updates).toHaveLength(1)
    expect(updates[0]).toMatchObject({ kind: 'update', relayed: false })
    expect(second.provider.pendingCount + third.provider.pendingCount).toBe(0)
  })

  it('a tab that opens later gets edits it could not load from the store (state vector exchange)', async () => {
    const docName = uniqueDoc()
    // Separate memory stores: the newcomer cannot read A's edit from storage.
    const a = tab(docName, async () => new MemoryClientStore())
    await a.provider.whenLoaded
    a.doc.getArray('list').push(['only in a'])
    const late = tab(docName, async () => new MemoryClientStore())
    late.doc.getArray('list').push(['only in late'])
    await until(late.doc, () => late.doc.getArray('list').length === 2)
    await until(a.doc, () => a.doc.getArray('list').length === 2)
    expect(a.doc.getArray('list').toJSON().sort()).toEqual(['only in a', 'only in late'])
  })

  it('is off by default with a custom store, and can be turned off; garbage on the channel is ignored', async () => {
    const docName = uniqueDoc()
    const doc = new Y.Doc()
    const custom = new MeridianProvider({ doc, docName, store: new MemoryClientStore(), crossTabSharing })
    cleanups.push(() => custom.destroy())
    expect(custom.crossTabEnabled).toBe(false)
    // indexedDbStore() is shared by the tabs of an origin: sharing is on by default with it.
    const shared = new MeridianProvider({ doc: new Y.Doc(), docName, store: indexedDbStore(), crossTabSharing })
    cleanups.push(() => shared.destroy())
    expect(shared.crossTabEnabled).toBe(true)
    const off = new MeridianProvider({ doc: new Y.Doc(), docName, crossTab: false, store: new MemoryClientStore() })
    cleanups.push(() => off.destroy())
    expect(off.crossTabEnabled).toBe(false)

    const a = tab(docName, async () => new MemoryClientStore())
    const errors: string[] = []
    a.provider.on('error', (e) => errors.push(e.code))
    await a.provider.whenLoaded
    const rogue = new BroadcastChannel(crossTabChannelName(docName))
    rogue.postMessage({ v: 1, kind: 'update', from: 'rogue', update: new Uint8Array([1, 2, 3]), relayed: true })
    rogue.postMessage({ v: 99, kind: 'whatever' })
    rogue.postMessage('hello')
    rogue.close()
    await vi.waitFor(() => expect(errors).toEqual(['ERR_REMOTE_UPDATE']))
    a.doc.getText('t').insert(0, 'still fine')
    expect(a.doc.getText('t').toString()).toBe('still fine')
    expect(doc.getText('t').toString()).toBe('')
  })

  it('is opt-in: without crossTabSharing tabs do not share, and crossTab: true alone is an options error', async () => {
    const docName = uniqueDoc()
    // IndexedDB (shared by tabs) would turn sharing on; without the entry there is nothing to turn on.
    const plain = new MeridianProvider({ doc: new Y.Doc(), docName, store: indexedDbStore() })
    cleanups.push(() => plain.destroy())
    expect(plain.crossTabEnabled).toBe(false)
    expect(() => new MeridianProvider({ doc: new Y.Doc(), docName, crossTab: true, store: new MemoryClientStore() })).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS' }))
  })
})
