import * as fake from 'fake-indexeddb'
import { describe, expect, it, vi } from 'vitest'
import { openIdbClientStore } from './idb-store.js'
import { describeClientStoreConformance, docFromStored, docFromUpdates, expectSameDoc, sampleUpdates } from './store-conformance.js'
import type { ClientAppendEntry } from './types.js'

// The IndexedDB store checks that the IndexedDB classes are globals; provide fake-indexeddb's classes,
// but no global `indexedDB`, so every test proves the injected factory is the one used.
for (const name of ['IDBRequest', 'IDBOpenDBRequest', 'IDBTransaction', 'IDBDatabase', 'IDBObjectStore', 'IDBIndex', 'IDBCursor', 'IDBCursorWithValue', 'IDBKeyRange'] as const) {
  vi.stubGlobal(name, fake[name])
}

describeClientStoreConformance('IdbClientStore on fake-indexeddb', () => openIdbClientStore({ indexedDB: new fake.IDBFactory() }))

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

describe('IdbClientStore on fake-indexeddb', () => {
  it('two tabs appending and compacting concurrently keep every update', async () => {
    const factory = new fake.IDBFactory()
    const tabA = await openIdbClientStore({ indexedDB: factory, dbName: 'shared' })
    const tabB = await openIdbClientStore({ indexedDB: factory, dbName: 'shared' })
    const fromA = sampleUpdates(60, 101)
    const fromB = sampleUpdates(60, 202)
    const keysA: number[] = []
    const keysB: number[] = []
    const run = async (tab: typeof tabA, updates: Uint8Array[], keys: number[]): Promise<void> => {
      const work: Promise<unknown>[] = []
      for (let i = 0; i < updates.length; i += 4) {
        const batch: ClientAppendEntry[] = updates.slice(i, i + 4).map((data) => ({ data, pending: true }))
        // Not awaited one by one: both tabs' transactions queue up and interleave.
        work.push(tab.append('doc', batch).then((result) => keys.push(...result.keys)))
        if (i % 12 === 8) work.push(tab.compact('doc'))
      }
      await Promise.all(work)
    }
    await Promise.all([run(tabA, fromA, keysA), run(tabB, fromB, keysB)])
    await Promise.all([tabA.compact('doc'), tabB.compact('doc')])

    const tabC = await openIdbClientStore({ indexedDB: factory, dbName: 'shared' })
    const stored = await tabC.load('doc')
    expectSameDoc(docFromStored(stored), docFromUpdates([...fromA, ...fromB]))
    expect(new Set([...keysA, ...keysB]).size).toBe(keysA.length + keysB.length)
    expect(stored.pending.map((entry) => entry.key)).toEqual([...keysA, ...keysB].sort((x, y) => x - y))
    await Promise.all([tabA.close(), tabB.close(), tabC.close()])
  })

  it('survives closing and reopening the database', async () => {
    const factory = new fake.IDBFactory()
    const updates = sampleUpdates(9)
    const first = await openIdbClientStore({ indexedDB: factory, dbName: 'durable' })
    const { keys } = await first.append('doc', updates.slice(0, 6).map((data) => ({ data, pending: true })))
    await first.compact('doc')
    await first.append('doc', updates.slice(6).map((data) => ({ data, pending: false })))
    await first.close()

    const second = await openIdbClientStore({ indexedDB: factory, dbName: 'durable' })
    const stored = await second.load('doc')
    expect(stored.updates).toHaveLength(3)
    expect(stored.pending.map((entry) => entry.key)).toEqual(keys)
    expectSameDoc(docFromStored(stored), docFromUpdates(updates))
    // Keys keep increasing across connections.
    const next = await second.append('doc', [{ data: sampleUpdates(1, 5)[0] ?? new Uint8Array(), pending: false }])
    expect(next.keys[0]).toBeGreaterThan(Math.max(...keys))
    await second.close()
  })

  it('reports corrupt records with ERR_STORE_IO naming them and deletes nothing', async () => {
    const factory = new fake.IDBFactory()
    const store = await openIdbClientStore({ indexedDB: factory, dbName: 'corrupt' })
    await store.append('doc', sampleUpdates(3).map((data) => ({ data, pending: false })))
    await store.append('other', sampleUpdates(2).map((data) => ({ data, pending: false })))
    // Another writer (an older app version, devtools) left a record that is not an update.
    const raw = await request(factory.open('corrupt'))
    const badKey = await request(raw.transaction('updates', 'readwrite').objectStore('updates').add({ doc: 'doc', data: 'not bytes' }))
    const countRaw = () => request(raw.transaction('updates').objectStore('updates').count())

    const load = store.load('doc')
    await expect(load).rejects.toMatchObject({ code: 'ERR_STORE_IO' })
    await expect(load).rejects.toThrow(`update record ${String(badKey)} of document 'doc'`)
    await expect(store.compact('doc')).rejects.toMatchObject({ code: 'ERR_STORE_IO' })
    expect(await countRaw()).toBe(6)
    // Other documents are unaffected.
    expect((await store.load('other')).updates).toHaveLength(2)

    await request(raw.transaction('snapshots', 'readwrite').objectStore('snapshots').put({ doc: 'other', data: [1, 2] }))
    await expect(store.load('other')).rejects.toThrow(`snapshot of document 'other'`)
    await expect(store.compact('other')).rejects.toMatchObject({ code: 'ERR_STORE_IO' })
    expect(await countRaw()).toBe(6)
    raw.close()
    await store.close()
  })
})
