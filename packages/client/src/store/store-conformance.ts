import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createEditingSession } from './editing-session.js'
import type { ClientAppendEntry, ClientStore, ClientStoredDocument } from './types.js'

/**
 * Test support: the behaviour every ClientStore must show. Run it once per
 * implementation with a factory that returns a fresh, isolated, open store.
 * Not exported from index.ts because it imports vitest.
 */
export type ClientStoreFactory = () => Promise<ClientStore>

/** Applies a stored document (snapshot, then updates) to a fresh Y.Doc. */
export function docFromStored(stored: ClientStoredDocument): Y.Doc {
  const doc = new Y.Doc()
  if (stored.snapshot !== null) Y.applyUpdate(doc, stored.snapshot)
  for (const { data } of stored.updates) Y.applyUpdate(doc, data)
  return doc
}

export function docFromUpdates(updates: readonly Uint8Array[]): Y.Doc {
  const doc = new Y.Doc()
  for (const update of updates) Y.applyUpdate(doc, update)
  return doc
}

export function contentOf(doc: Y.Doc): unknown {
  return { text: doc.getText('text').toString(), map: doc.getMap('map').toJSON(), array: doc.getArray('array').toJSON() }
}

/** Same content, same state vector, same encoded state. */
export function expectSameDoc(actual: Y.Doc, expected: Y.Doc): void {
  expect(contentOf(actual)).toEqual(contentOf(expected))
  expect(Y.encodeStateVector(actual)).toEqual(Y.encodeStateVector(expected))
  expect(Y.encodeStateAsUpdate(actual)).toEqual(Y.encodeStateAsUpdate(expected))
}

/** A few real Yjs updates from one client editing text, a map and an array. */
export function sampleUpdates(count: number, clientID = 7): Uint8Array[] {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  for (let i = 0; i < count; i++) {
    if (i % 3 === 0) doc.getText('text').insert(0, `t${i} `)
    else if (i % 3 === 1) doc.getMap('map').set(`k${i % 4}`, i)
    else doc.getArray('array').push([i])
  }
  doc.destroy()
  return updates
}

const entries = (updates: readonly Uint8Array[], pending: boolean): ClientAppendEntry[] => updates.map((data) => ({ data, pending }))

export function describeClientStoreConformance(name: string, createStore: ClientStoreFactory): void {
  describe(`${name} (ClientStore conformance)`, () => {
    const opened: ClientStore[] = []
    const open = async (): Promise<ClientStore> => {
      const store = await createStore()
      opened.push(store)
      return store
    }
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()))
    })

    it('loads an unknown document as empty', async () => {
      const store = await open()
      expect(await store.load('nothing')).toEqual({ snapshot: null, updates: [], pending: [] })
    })

    it('appends with increasing keys; pending entries share the update keys', async () => {
      const store = await open()
      const [a, b, c, d] = sampleUpdates(4)
      if (a === undefined || b === undefined || c === undefined || d === undefined) throw new Error('sample')
      const first = await store.append('doc', [{ data: a, pending: true }, { data: b, pending: false }])
      const second = await store.append('doc', [{ data: c, pending: false }, { data: d, pending: true }])
      const keys = [...first.keys, ...second.keys]
      expect(keys).toEqual([...keys].sort((x, y) => x - y))
      expect(new Set(keys).size).toBe(4)
      expect(first.updateCount).toBe(2)
      expect(second.updateCount).toBe(4)
      const stored = await store.load('doc')
      expect(stored.updates).toEqual([a, b, c, d].map((data, i) => ({ key: keys[i], data })))
      expect(stored.pending).toEqual([
        { key: keys[0], data: a },
        { key: keys[3], data: d }
      ])
      expect(await store.append('doc', [])).toEqual({ keys: [], updateCount: 4 })
    })

    it('acknowledge removes only the given pending keys', async () => {
      const store = await open()
      const { keys } = await store.append('doc', entries(sampleUpdates(4), true))
      const other = await store.append('other', entries(sampleUpdates(1, 8), true))
      const [k0, k1, k2, k3] = keys
      // Unknown keys and another document's key are ignored.
      await store.acknowledge('doc', [k1 ?? -1, k3 ?? -1, 999_999, ...other.keys])
      const stored = await store.load('doc')
      expect(stored.pending.map((entry) => entry.key)).toEqual([k0, k2])
      expect(stored.updates).toHaveLength(4)
      expect((await store.load('other')).pending.map((entry) => entry.key)).toEqual(other.keys)
      await store.acknowledge('doc', [])
      await store.acknowledge('never-written', [1, 2])
    })

    it('compacts into an equivalent snapshot, leaving the pending list alone', async () => {
      const store = await open()
      const updates = sampleUpdates(12)
      await store.append('doc', updates.map((data, i) => ({ data, pending: i % 2 === 0 })))
      const before = await store.load('doc')
      await store.compact('doc')
      const after = await store.load('doc')
      expect(after.updates).toEqual([])
      expect(after.snapshot).not.toBeNull()
      expect(after.pending).toEqual(before.pending)
      expectSameDoc(docFromStored(after), docFromUpdates(updates))
    })

    it('appends after a compaction and compacts again over the snapshot', async () => {
      const store = await open()
      const updates = sampleUpdates(10)
      const firstKeys = (await store.append('doc', entries(updates.slice(0, 6), false))).keys
      await store.compact('doc')
      const result = await store.append('doc', entries(updates.slice(6), true))
      expect(result.updateCount).toBe(4)
      expect(Math.min(...result.keys)).toBeGreaterThan(Math.max(...firstKeys))
      const mixed = await store.load('doc')
      expect(mixed.updates).toHaveLength(4)
      expectSameDoc(docFromStored(mixed), docFromUpdates(updates))
      await store.compact('doc')
      const compacted = await store.load('doc')
      expect(compacted.updates).toEqual([])
      expect(compacted.pending.map((entry) => entry.key)).toEqual(result.keys)
      expectSameDoc(docFromStored(compacted), docFromUpdates(updates))
      expect((await store.append('doc', entries(sampleUpdates(1, 9), false))).updateCount).toBe(1)
    })

    it('compacting a document without update records changes nothing', async () => {
      const store = await open()
      await store.compact('empty')
      expect(await store.load('empty')).toEqual({ snapshot: null, updates: [], pending: [] })
      await store.append('doc', entries(sampleUpdates(2), false))
      await store.compact('doc')
      const snapshot = (await store.load('doc')).snapshot
      await store.compact('doc')
      expect((await store.load('doc')).snapshot).toEqual(snapshot)
    })

    it('a corrupt update record fails compaction with ERR_STORE_IO naming it, and nothing is lost', async () => {
      const store = await open()
      const updates = sampleUpdates(3)
      await store.append('doc', entries(updates, false))
      await store.compact('doc')
      const { keys } = await store.append('doc', [
        { data: new Uint8Array([255, 255, 255, 255]), pending: false },
        { data: sampleUpdates(4)[3] ?? new Uint8Array(), pending: true }
      ])
      const before = await store.load('doc')
      const failure = store.compact('doc')
      await expect(failure).rejects.toMatchObject({ name: 'ClientStoreError', code: 'ERR_STORE_IO' })
      await expect(failure).rejects.toThrow(`update record ${keys[0]}`)
      expect(await store.load('doc')).toEqual(before)
    })

    it('remove deletes snapshot, updates and pending of that document only', async () => {
      const store = await open()
      await store.append('doc', entries(sampleUpdates(3), true))
      await store.compact('doc')
      await store.append('doc', entries(sampleUpdates(2, 8), true))
      await store.append('keep', entries(sampleUpdates(2, 9), true))
      await store.remove('doc')
      expect(await store.load('doc')).toEqual({ snapshot: null, updates: [], pending: [] })
      expect((await store.load('keep')).updates).toHaveLength(2)
      await store.remove('never-written')
    })

    it('keeps documents isolated', async () => {
      const store = await open()
      const a = sampleUpdates(5, 1)
      const b = sampleUpdates(3, 2)
      await store.append('a', entries(a, true))
      await store.append('b', entries(b, false))
      await store.compact('a')
      expect(await store.load('b')).toMatchObject({ snapshot: null, pending: [] })
      expect((await store.load('b')).updates.map((entry) => entry.data)).toEqual(b)
      expect((await store.load('a')).pending.map((entry) => entry.data)).toEqual(a)
      expect((await store.append('b', [])).updateCount).toBe(3)
    })

    it('copies data in and out, storing views as tight copies', async () => {
      const store = await open()
      const [update] = sampleUpdates(1)
      if (update === undefined) throw new Error('sample')
      const framed = new Uint8Array(update.length + 20)
      framed.set(update, 10)
      const view = framed.subarray(10, 10 + update.length)
      await store.append('doc', [{ data: view, pending: true }])
      framed.fill(0)
      const first = await store.load('doc')
      const stored = first.updates[0]?.data
      expect(stored).toEqual(update)
      expect(stored?.buffer.byteLength).toBe(update.length)
      stored?.fill(0)
      first.pending[0]?.data.fill(0)
      const second = await store.load('doc')
      expect(second.updates[0]?.data).toEqual(update)
      expect(second.pending[0]?.data).toEqual(update)
    })

    it('rejects every call with ERR_STORE_CLOSED after close', async () => {
      const store = await open()
      await store.append('doc', entries(sampleUpdates(1), true))
      await store.close()
      const closed = { code: 'ERR_STORE_CLOSED' }
      await expect(store.load('doc')).rejects.toMatchObject(closed)
      await expect(store.append('doc', [])).rejects.toMatchObject(closed)
      await expect(store.acknowledge('doc', [1])).rejects.toMatchObject(closed)
      await expect(store.compact('doc')).rejects.toMatchObject(closed)
      await expect(store.remove('doc')).rejects.toMatchObject(closed)
      await store.close() // idempotent
    })

    for (const seed of [1, 42]) {
      it(`reloads a seeded random editing session (seed ${seed}) to an identical document`, async () => {
        const store = await open()
        const session = createEditingSession(seed)
        const appended: Uint8Array[] = []
        const expectedPending = new Map<number, Uint8Array>()
        let appends = 0
        const flush = async (batch: readonly ClientAppendEntry[]): Promise<void> => {
          const { keys } = await store.append('doc', batch)
          appended.push(...batch.map((entry) => entry.data))
          batch.forEach((entry, i) => {
            const key = keys[i]
            if (entry.pending && key !== undefined) expectedPending.set(key, entry.data)
          })
          // Acknowledge some local edits, as a relay would, and compact now and then.
          if (++appends % 3 === 0) {
            const acked = keys.filter((_, i) => i % 2 === 0)
            await store.acknowledge('doc', acked)
            for (const key of acked) expectedPending.delete(key)
          }
          if (appends % 7 === 0) await store.compact('doc')
        }
        let queued: ClientAppendEntry[] = []
        for (let i = 0; i < 600; i++) {
          queued.push(...session.step().entries)
          if (queued.length >= 5 || (i % 11 === 10 && queued.length > 0)) {
            await flush(queued)
            queued = []
          }
        }
        await flush([...queued, ...session.drain().entries])
        expect(appended.length).toBeGreaterThan(100)

        const stored = await store.load('doc')
        expect(stored.pending).toEqual([...expectedPending].map(([key, data]) => ({ key, data })))
        const reloaded = docFromStored(stored)
        expectSameDoc(reloaded, docFromUpdates(appended))
        expect(contentOf(reloaded)).toEqual(contentOf(session.doc))
        expect(Y.encodeStateVector(reloaded)).toEqual(Y.encodeStateVector(session.doc))
        await store.compact('doc')
        expectSameDoc(docFromStored(await store.load('doc')), docFromUpdates(appended))
        session.destroy()
      })
    }
  })
}
