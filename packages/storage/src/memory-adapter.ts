import { StorageError, toStorageError } from './errors.js'
import type { StorageAdapter, StoredDocument, StoredUpdate } from './types.js'
import { assertMeshMembers, unionMeshMembers, type StoredMeshMember } from './mesh-members.js'
import { assertBytes, assertDocName, assertSeq, assertUpdateList } from './validate.js'
import { assertCursorValues, assertKey, assertLimit, assertTtl, parsePositionCursor, type ChangeLogEntry, type ChangesPage } from './change-feed.js'
import { assertDeletedAt, assertListDocumentsOptions, compareDocNames, type DocTombstone, type ListDocumentsOptions, type StoredDocumentInfo } from './doc-index.js'

interface MemoryDocument {
  snapshot: Uint8Array | null
  snapshotSeq: number
  /** Next sequence number to hand out; only ever grows, so compaction never causes reuse. */
  nextSeq: number
  /** Ascending by seq, all > snapshotSeq. */
  updates: StoredUpdate[]
  /** When the last update was appended (Date.now, like the leases). */
  lastChangeAtMs: number
}

/**
 * Non-durable adapter for tests and single-process demos. Bytes are copied on the
 * way in and out, so neither side can corrupt the other's arrays. Data is lost on
 * `close()` (there is nothing to reopen).
 */
export class MemoryStorageAdapter implements StorageAdapter {
  #docs = new Map<string, MemoryDocument>()
  #closed = false
  #meshMembers = new Map<string, StoredMeshMember[]>()
  /** The relay-wide change log (change-feed.ts), in append order. */
  #log: { pos: number; doc: string; seq: number }[] = []
  #nextPos = 1
  #cursors = new Map<string, Map<string, string>>()
  #leases = new Map<string, { holder: string; untilMs: number }>()
  #tombstones = new Map<string, number>()

  load(docName: string): Promise<StoredDocument | null> {
    return this.#run(() => {
      assertDocName(docName)
      const doc = this.#docs.get(docName)
      if (doc === undefined) return null
      return {
        snapshot: doc.snapshot === null ? null : doc.snapshot.slice(),
        snapshotSeq: doc.snapshotSeq,
        updates: doc.updates.map((u) => ({ seq: u.seq, data: u.data.slice() }))
      }
    })
  }

  append(docName: string, update: Uint8Array): Promise<number> {
    return this.#run(() => {
      assertDocName(docName)
      assertBytes(update, 'update')
      return this.#store(docName, [update])[0] as number
    })
  }

  appendMany(docName: string, updates: readonly Uint8Array[]): Promise<number[]> {
    return this.#run(() => {
      assertDocName(docName)
      assertUpdateList(updates)
      return updates.length === 0 ? [] : this.#store(docName, updates)
    })
  }

  /** Arguments already checked: nothing below throws, so a list is stored whole. */
  #store(docName: string, updates: readonly Uint8Array[]): number[] {
    let doc = this.#docs.get(docName)
    if (doc === undefined) {
      doc = { snapshot: null, snapshotSeq: 0, nextSeq: 1, updates: [], lastChangeAtMs: 0 }
      this.#docs.set(docName, doc)
    }
    doc.lastChangeAtMs = Date.now()
    const seqs: number[] = []
    for (const update of updates) {
      const seq = doc.nextSeq++
      // Plain Uint8Array copy: also detaches from a caller's Buffer pool or larger ArrayBuffer.
      doc.updates.push({ seq, data: new Uint8Array(update) })
      this.#log.push({ pos: this.#nextPos++, doc: docName, seq })
      seqs.push(seq)
    }
    return seqs
  }

  compact(docName: string, snapshot: Uint8Array, throughSeq: number): Promise<void> {
    return this.#run(() => {
      assertDocName(docName)
      assertBytes(snapshot, 'snapshot')
      assertSeq(throughSeq)
      const doc = this.#docs.get(docName)
      const snapshotSeq = doc?.snapshotSeq ?? 0
      const nextSeq = doc?.nextSeq ?? 1
      // Stale or repeated compaction: never move backwards.
      if (throughSeq <= snapshotSeq) return
      if (doc === undefined || throughSeq >= nextSeq) {
        throw new StorageError(
          'ERR_STORAGE_INVALID_ARGUMENT',
          `throughSeq ${throughSeq} is beyond the last appended seq ${nextSeq - 1} of "${docName}"`
        )
      }
      doc.snapshot = new Uint8Array(snapshot)
      doc.snapshotSeq = throughSeq
      doc.updates = doc.updates.filter((u) => u.seq > throughSeq)
      // Keep the newest folded entry: a log reader behind it learns the document changed.
      this.#log = this.#log.filter((e) => e.doc !== docName || e.seq >= throughSeq)
    })
  }

  remove(docName: string): Promise<void> {
    return this.#run(() => {
      assertDocName(docName)
      this.#docs.delete(docName)
      this.#log = this.#log.filter((e) => e.doc !== docName)
    })
  }

  list(): Promise<string[]> {
    return this.#run(() => [...this.#docs.keys()])
  }

  /** Sorts every name: fine for a test adapter (the durable adapters read an index). */
  listDocuments(options: ListDocumentsOptions): Promise<StoredDocumentInfo[]> {
    return this.#run(() => {
      assertListDocumentsOptions(options)
      const prefix = options.prefix ?? ''
      const after = options.after ?? ''
      const names = [...this.#docs.keys()]
        .filter((n) => n.startsWith(prefix) && !this.#tombstones.has(n) && (after === '' || compareDocNames(n, after) > 0))
        .sort(compareDocNames)
        .slice(0, options.limit)
      return names.map((docName) => {
        const doc = this.#docs.get(docName) as MemoryDocument
        const bytes = doc.updates.reduce((n, u) => n + u.data.length, doc.snapshot?.length ?? 0)
        return { docName, bytes, lastSeq: doc.nextSeq - 1, lastChangeAtMs: doc.lastChangeAtMs }
      })
    })
  }

  tombstone(docName: string, deletedAtMs: number): Promise<void> {
    return this.#run(() => {
      assertDocName(docName)
      assertDeletedAt(deletedAtMs)
      this.#docs.delete(docName)
      this.#log = this.#log.filter((e) => e.doc !== docName) // as remove() does
      if (!this.#tombstones.has(docName)) this.#tombstones.set(docName, deletedAtMs)
    })
  }

  loadTombstone(docName: string): Promise<DocTombstone | null> {
    return this.#run(() => {
      assertDocName(docName)
      const deletedAtMs = this.#tombstones.get(docName)
      return deletedAtMs === undefined ? null : { docName, deletedAtMs }
    })
  }

  listTombstones(): Promise<DocTombstone[]> {
    return this.#run(() => [...this.#tombstones].map(([docName, deletedAtMs]) => ({ docName, deletedAtMs })))
  }

  saveMeshMembers(observerNodeId: string, members: readonly StoredMeshMember[]): Promise<void> {
    return this.#run(() => {
      assertMeshMembers(observerNodeId, members)
      this.#meshMembers.set(observerNodeId, members.map((m) => ({ nodeId: m.nodeId, region: m.region, url: m.url, incarnation: m.incarnation })))
    })
  }

  loadMeshMembers(): Promise<StoredMeshMember[]> {
    return this.#run(() => unionMeshMembers([...this.#meshMembers.values()].flat()))
  }

  readChanges(docName: string, afterSeq: number, limit: number): Promise<ChangesPage | null> {
    return this.#run(() => {
      assertDocName(docName)
      assertSeq(afterSeq, 'afterSeq')
      assertLimit(limit)
      const doc = this.#docs.get(docName)
      if (doc === undefined) return null
      const snapshot = afterSeq < doc.snapshotSeq && doc.snapshot !== null ? { seq: doc.snapshotSeq, data: doc.snapshot.slice() } : null
      const from = Math.max(afterSeq, doc.snapshotSeq)
      const updates = doc.updates.filter((u) => u.seq > from).slice(0, limit).map((u) => ({ seq: u.seq, data: u.data.slice() }))
      return { snapshot, updates, headSeq: doc.nextSeq - 1 }
    })
  }

  readChangeLog(after: string | null, limit: number): Promise<ChangeLogEntry[]> {
    return this.#run(() => {
      const from = parsePositionCursor(after)
      assertLimit(limit)
      const out: ChangeLogEntry[] = []
      for (const e of this.#log) {
        if (out.length >= limit) break
        if (e.pos <= from) continue
        const data = this.#docs.get(e.doc)?.updates.find((u) => u.seq === e.seq)?.data.slice() ?? null
        out.push({ cursor: String(e.pos), doc: e.doc, seq: e.seq, data })
      }
      return out
    })
  }

  loadCursors(consumer: string): Promise<Record<string, string>> {
    return this.#run(() => {
      assertKey(consumer, 'consumer')
      return Object.fromEntries(this.#cursors.get(consumer) ?? [])
    })
  }

  saveCursors(consumer: string, values: Readonly<Record<string, string | null>>): Promise<void> {
    return this.#run(() => {
      assertKey(consumer, 'consumer')
      assertCursorValues(values)
      let map = this.#cursors.get(consumer)
      if (map === undefined) this.#cursors.set(consumer, (map = new Map()))
      for (const [key, value] of Object.entries(values)) {
        if (value === null) map.delete(key)
        else map.set(key, value)
      }
    })
  }

  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.#run(() => {
      assertKey(name, 'lease name')
      assertKey(holder, 'holder')
      assertTtl(ttlMs)
      const now = Date.now()
      const lease = this.#leases.get(name)
      if (lease !== undefined && lease.holder !== holder && lease.untilMs > now) return false
      this.#leases.set(name, { holder, untilMs: now + ttlMs })
      return true
    })
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.#run(() => {
      assertKey(name, 'lease name')
      assertKey(holder, 'holder')
      if (this.#leases.get(name)?.holder === holder) this.#leases.delete(name)
    })
  }

  close(): Promise<void> {
    this.#closed = true
    this.#docs.clear()
    this.#meshMembers.clear()
    this.#tombstones.clear()
    return Promise.resolve()
  }

  /** Runs synchronously but always settles a promise: callers never see a synchronous throw. */
  #run<T>(fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new StorageError('ERR_STORAGE_CLOSED', 'storage adapter is closed'))
    try {
      return Promise.resolve(fn())
    } catch (err) {
      return Promise.reject(toStorageError(err))
    }
  }
}
