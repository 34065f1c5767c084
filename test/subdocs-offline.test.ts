/**
 * Yjs subdocuments through two MeridianClients (`subdocs`) and a real relay,
 * offline: both go offline, edit subdocuments (one the same, others their
 * own) and create new ones, reload offline (a new client on the same store:
 * a MemoryClientStore kept across the reload, and fake-indexeddb), load their
 * subdocuments lazily, and reconnect. Everything loaded converges with the
 * relay, no offline write is lost, and a subdocument nobody loaded is never
 * asked of the relay.
 */
// The second client keeps its documents in (fake) IndexedDB, which outlives it: its classes must be globals.
import 'fake-indexeddb/auto'
import { IDBFactory } from 'fake-indexeddb'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { type MeridianProvider } from '@meridian/client'
import { MemoryClientStore, openIdbClientStore } from '@meridian/client/store'
import { subdocName, type MeridianClientOptions } from '@meridian/client/multiplex'
import { MemoryStorageAdapter, type StorageAdapter } from '@meridian/storage'
import { expectConverged, startTestRelay, storedDoc } from '@meridian/testing'
import { createMuxClient, metric, whenDoc, whenSameState, type TestMuxClient } from './helpers/mux.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** In-memory relay storage that records every document name the relay asks it about. */
function spiedStorage(): { storage: StorageAdapter; asked: Set<string> } {
  const asked = new Set<string>()
  const inner = new MemoryStorageAdapter()
  const storage = new Proxy(inner, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        if (typeof args[0] === 'string') asked.add(args[0])
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    }
  })
  return { storage, asked }
}

const P = 'project'
const files = (doc: Y.Doc): Y.Map<Y.Doc> => doc.getMap<Y.Doc>('files')
const text = (doc: Y.Doc): string => doc.getText('t').toString()

/** The subdocument `key` of the parent, loaded (lazily: only now is it opened), with its provider once loaded from the store. */
async function load(m: TestMuxClient, parent: MeridianProvider, key: string): Promise<{ doc: Y.Doc; provider: MeridianProvider }> {
  const doc = files(parent.doc).get(key)
  if (doc === undefined) throw new Error(`no subdocument ${key} in ${parent.docName}`)
  doc.load()
  const provider = m.client.providerFor(doc)
  if (provider === null) throw new Error(`subdocument ${key} was not opened on load`)
  await provider.whenLoaded
  return { doc, provider }
}

describe('subdocuments offline, across a reload', () => {
  it('two clients edit and create subdocuments offline, reload offline, load lazily and converge; an unloaded one is never opened', async () => {
    const { storage, asked } = spiedStorage()
    const { relay, url } = await startTestRelay({ storage })
    cleanups.push(() => relay.close())
    const storeA = new MemoryClientStore()
    const idbB = new IDBFactory()
    const optionsA: MeridianClientOptions = { url, store: storeA }
    const optionsB: MeridianClientOptions = { url, store: () => openIdbClientStore({ indexedDB: idbB }) }
    const client = (options: MeridianClientOptions): TestMuxClient => {
      const m = createMuxClient(options)
      cleanups.push(() => m.client.destroy())
      return m
    }

    // Online: A makes the parent with three subdocuments (and one it never loads); B opens two of them.
    const a1 = client(optionsA)
    const parentA1 = a1.open(P, { subdocs: {} })
    const made = new Map(['shared', 'a-own', 'b-own'].map((key) => [key, new Y.Doc()]))
    const idle = new Y.Doc({ shouldLoad: false })
    parentA1.doc.transact(() => {
      for (const [key, doc] of made) files(parentA1.doc).set(key, doc)
      files(parentA1.doc).set('idle', idle)
    })
    for (const [key, doc] of made) doc.getText('t').insert(0, `${key}:`)
    const openedA1 = [...made.values()].map((doc) => a1.client.providerFor(doc) as MeridianProvider)
    expect(openedA1.every((p) => p !== null)).toBe(true)
    await Promise.all([parentA1, ...openedA1].map((p) => p.whenAcknowledged({ timeoutMs: 5_000 })))
    const b1 = client(optionsB)
    const parentB1 = b1.open(P, { subdocs: {} })
    await parentB1.whenSynced({ timeoutMs: 5_000 })
    const sharedB1 = await load(b1, parentB1, 'shared')
    const bOwnB1 = await load(b1, parentB1, 'b-own')
    await whenDoc(sharedB1.doc, (d) => text(d) === 'shared:', 'B to get the shared subdocument')
    await whenDoc(bOwnB1.doc, (d) => text(d) === 'b-own:', 'B to get its own subdocument')

    // Offline: each edits the shared subdocument and its own, creates one, and edits the parent.
    a1.client.disconnect()
    b1.client.disconnect()
    made.get('shared')?.getMap('m').set('a', 'offline')
    made.get('a-own')?.getText('t').insert(6, ' by A offline')
    sharedB1.doc.getMap('m').set('b', 'offline')
    bOwnB1.doc.getText('t').insert(6, ' by B offline')
    const aNew = new Y.Doc()
    const bNew = new Y.Doc()
    files(parentA1.doc).set('a-new', aNew)
    files(parentB1.doc).set('b-new', bNew)
    aNew.getText('t').insert(0, 'created by A offline')
    bNew.getText('t').insert(0, 'created by B offline')
    parentA1.doc.getMap('meta').set('a', 1)
    parentB1.doc.getMap('meta').set('b', 2)
    expect((a1.client.providerFor(aNew) as MeridianProvider).pendingCount).toBe(1)
    // Reload, still offline: A closes cleanly (its store keeps every unacknowledged write); B's page just goes
    // once its writes are in IndexedDB (never destroyed, as a tab that is closed). New clients open the same stores.
    await a1.client.destroy()
    await Promise.all([...b1.client.documents.values()].map((p) => p.whenPersisted()))

    const a2 = client({ ...optionsA, connect: false })
    const b2 = client({ ...optionsB, connect: false })
    const parentA = a2.open(P, { subdocs: {} })
    const parentB = b2.open(P, { subdocs: {} })
    await Promise.all([parentA.whenLoaded, parentB.whenLoaded])
    expect(parentA.doc.getMap('meta').toJSON()).toEqual({ a: 1 })
    expect(parentB.doc.getMap('meta').toJSON()).toEqual({ b: 2 })
    // Lazily: nothing but the parent is open until a subdocument is loaded.
    expect([...a2.client.documents.keys()]).toEqual([P])
    expect([...files(parentA.doc).values()].every((d) => !d.shouldLoad)).toBe(true)
    const loadedA = { shared: await load(a2, parentA, 'shared'), own: await load(a2, parentA, 'a-own'), created: await load(a2, parentA, 'a-new') }
    const loadedB = { shared: await load(b2, parentB, 'shared'), own: await load(b2, parentB, 'b-own'), created: await load(b2, parentB, 'b-new') }
    expect(loadedA.shared.doc.getMap('m').toJSON()).toEqual({ a: 'offline' })
    expect(text(loadedA.own.doc)).toBe('a-own: by A offline')
    expect(text(loadedA.created.doc)).toBe('created by A offline')
    expect(loadedB.shared.doc.getMap('m').toJSON()).toEqual({ b: 'offline' })
    expect(text(loadedB.own.doc)).toBe('b-own: by B offline')
    expect(text(loadedB.created.doc)).toBe('created by B offline')
    for (const l of [...Object.values(loadedA), ...Object.values(loadedB)]) expect(l.provider.pendingCount, l.provider.docName).toBeGreaterThan(0)

    // Reconnect: every loaded document converges with the other client and the relay.
    a2.client.connect()
    b2.client.connect()
    const providers = [parentA, parentB, ...[...Object.values(loadedA), ...Object.values(loadedB)].map((l) => l.provider)]
    await Promise.all(providers.map((p) => p.whenAcknowledged({ timeoutMs: 10_000 })))
    await Promise.all(providers.map((p) => p.whenSynced({ timeoutMs: 10_000 })))
    await whenSameState([parentA.doc, parentB.doc], 'the parents to converge')
    await whenSameState([loadedA.shared.doc, loadedB.shared.doc], 'the shared subdocument to converge')
    expectConverged([{ name: 'A', doc: parentA.doc }, { name: 'B', doc: parentB.doc }, { name: 'relay', doc: await storedDoc(storage, P) }], { label: 'parent' })
    expect(parentA.doc.getMap('meta').toJSON()).toEqual({ a: 1, b: 2 })
    expect([...files(parentA.doc).keys()].sort()).toEqual(['a-new', 'a-own', 'b-new', 'b-own', 'idle', 'shared'])
    const guid = (key: string): string => (files(parentA.doc).get(key) as Y.Doc).guid
    expect(files(parentB.doc).get('a-new')?.guid).toBe(guid('a-new'))
    expectConverged([
      { name: 'A', doc: loadedA.shared.doc }, { name: 'B', doc: loadedB.shared.doc }, { name: 'relay', doc: await storedDoc(storage, subdocName(P, guid('shared'))) }
    ], { label: 'shared' })
    expect(loadedA.shared.doc.getMap('m').toJSON()).toEqual({ a: 'offline', b: 'offline' })
    for (const [key, l] of [['a-own', loadedA.own], ['a-new', loadedA.created], ['b-own', loadedB.own], ['b-new', loadedB.created]] as const) {
      expectConverged([{ name: 'client', doc: l.doc }, { name: 'relay', doc: await storedDoc(storage, subdocName(P, guid(key))) }], { label: key })
    }

    // What each client has open, and what the relay was asked: never the subdocument nobody loaded.
    expect([...a2.client.documents.keys()].sort()).toEqual([P, ...['a-new', 'a-own', 'shared'].map((k) => subdocName(P, guid(k)))].sort())
    expect(await metric(url, 'meridian_relay_mux_documents{access="write"}')).toBe(8)
    expect(asked.has(subdocName(P, idle.guid)), 'the unloaded subdocument was asked of the relay').toBe(false)
    expect(asked.has(subdocName(P, guid('b-own')))).toBe(true)
    // A subdocument created offline by A, loaded by B only now: from the relay.
    const fromA = await load(b2, parentB, 'a-new')
    await whenDoc(fromA.doc, (d) => text(d) === 'created by A offline', 'B to load the subdocument A created offline')
    expect([a2, b2].flatMap((m) => [...m.errors, ...[...m.docErrors.values()].flat()])).toEqual([])
  })
})
