import { ownBytes } from './bytes.js'
import { foldUpdates } from './compaction.js'
import { ClientStoreError } from './errors.js'
import type {
  ClientAppendEntry,
  ClientAppendResult,
  ClientStore,
  ClientStoredDocument,
  ClientStoredUpdate
} from './types.js'

interface MemoryDocument {
  snapshot: Uint8Array | null
  // Maps iterate in insertion order and keys only grow, so iteration is key order.
  readonly updates: Map<number, Uint8Array>
  readonly pending: Map<number, Uint8Array>
}

/**
 * The ClientStore for tests and environments without IndexedDB. Same semantics
 * as the IndexedDB store; nothing survives the process. Every method finishes
 * its work without awaiting, so each call is atomic like a transaction.
 */
export class MemoryClientStore implements ClientStore {
  readonly #documents = new Map<string, MemoryDocument>()
  // One counter for updates and pending entries: keys are store-wide, as in IndexedDB (which starts at 1).
  #nextKey = 1
  #closed = false

  get closed(): boolean {
    return this.#closed
  }

  async load(docName: string): Promise<ClientStoredDocument> {
    this.#assertOpen()
    const doc = this.#documents.get(docName)
    if (doc === undefined) return { snapshot: null, updates: [], pending: [] }
    return {
      snapshot: doc.snapshot === null ? null : ownBytes(doc.snapshot),
      updates: copyEntries(doc.updates),
      pending: copyEntries(doc.pending)
    }
  }

  async append(docName: string, entries: readonly ClientAppendEntry[]): Promise<ClientAppendResult> {
    this.#assertOpen()
    const doc = this.#document(docName)
    const keys: number[] = []
    for (const entry of entries) {
      const key = this.#nextKey++
      doc.updates.set(key, ownBytes(entry.data))
      if (entry.pending) doc.pending.set(key, ownBytes(entry.data))
      keys.push(key)
    }
    return { keys, updateCount: doc.updates.size }
  }

  async acknowledge(docName: string, keys: readonly number[]): Promise<void> {
    this.#assertOpen()
    const doc = this.#documents.get(docName)
    if (doc === undefined) return
    for (const key of keys) doc.pending.delete(key)
  }

  async compact(docName: string): Promise<void> {
    this.#assertOpen()
    const doc = this.#documents.get(docName)
    if (doc === undefined || doc.updates.size === 0) return
    const read = [...doc.updates].map(([key, data]) => ({ key, data }))
    // Throws before any mutation when a record is corrupt, leaving the document intact.
    doc.snapshot = foldUpdates(docName, doc.snapshot, read)
    for (const { key } of read) doc.updates.delete(key)
  }

  async remove(docName: string): Promise<void> {
    this.#assertOpen()
    this.#documents.delete(docName)
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  #document(docName: string): MemoryDocument {
    let doc = this.#documents.get(docName)
    if (doc === undefined) {
      doc = { snapshot: null, updates: new Map(), pending: new Map() }
      this.#documents.set(docName, doc)
    }
    return doc
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClientStoreError('ERR_STORE_CLOSED', 'the client store is closed')
  }
}

function copyEntries(entries: ReadonlyMap<number, Uint8Array>): ClientStoredUpdate[] {
  return [...entries].map(([key, data]) => ({ key, data: ownBytes(data) }))
}
