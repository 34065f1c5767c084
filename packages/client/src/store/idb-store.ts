import { ownBytes } from './bytes.js'
import { foldUpdates } from './compaction.js'
import { ClientStoreError, isClientStoreError, toClientStoreError } from './errors.js'
import { openDatabase } from './idb-open.js'
import { committed, request } from './idb-request.js'
import { checkedData, type PendingRecord, type StoreName } from './idb-schema.js'
import type {
  ClientAppendEntry,
  ClientAppendResult,
  ClientStore,
  ClientStoreFactory,
  ClientStoreHooks,
  ClientStoredDocument,
  ClientStoredUpdate
} from './types.js'

export interface IdbClientStoreOptions {
  /** Database name; one per app origin is enough, documents are keyed inside it. */
  readonly dbName?: string
  /** Defaults to `globalThis.indexedDB`; Node tests pass fake-indexeddb's `new IDBFactory()`. */
  readonly indexedDB?: IDBFactory
  /** How long opening may take before rejecting with ERR_STORE_BLOCKED. */
  readonly openTimeoutMs?: number
  /**
   * The database was closed under us: another tab wants to upgrade or delete it
   * (we close so it can proceed), or the browser closed it. Not called for close().
   */
  readonly onClose?: (error: ClientStoreError) => void
}

export const DEFAULT_IDB_CLIENT_STORE_OPTIONS = Object.freeze({
  dbName: 'meridian',
  openTimeoutMs: 10_000
})

export interface IdbClientStore extends ClientStore {
  readonly dbName: string
  /** True after close() or after the database was closed under us. */
  readonly closed: boolean
}

// The IndexedDB classes the store relies on being globals (Node has none without fake-indexeddb/auto).
const IDB_GLOBALS = ['IDBRequest', 'IDBTransaction', 'IDBDatabase', 'IDBObjectStore', 'IDBIndex', 'IDBCursor'] as const

/** Opens the IndexedDB-backed store. Rejects (never throws) with a ClientStoreError. */
export async function openIdbClientStore(options: IdbClientStoreOptions = {}): Promise<IdbClientStore> {
  const dbName = options.dbName ?? DEFAULT_IDB_CLIENT_STORE_OPTIONS.dbName
  const factory = options.indexedDB ?? globalFactory()
  if (factory === undefined) {
    throw new ClientStoreError('ERR_STORE_UNAVAILABLE', 'IndexedDB is not available in this environment')
  }
  const missing = IDB_GLOBALS.filter((name) => typeof (globalThis as Record<string, unknown>)[name] !== 'function')
  if (missing.length > 0) {
    throw new ClientStoreError(
      'ERR_STORE_UNAVAILABLE',
      `IndexedDB classes are not globals here (${missing.join(', ')}); in Node, import 'fake-indexeddb/auto' first`
    )
  }
  const store = new IdbStore(dbName, options.onClose)
  try {
    const db = await openDatabase({
      factory,
      dbName,
      timeoutMs: options.openTimeoutMs ?? DEFAULT_IDB_CLIENT_STORE_OPTIONS.openTimeoutMs,
      onVersionChange: () => store.closedUnderUs('another connection is upgrading or deleting the database'),
      onForcedClose: () => store.closedUnderUs('the browser closed the database connection')
    })
    store.attach(db)
  } catch (error) {
    throw toClientStoreError(error, `cannot open IndexedDB database '${dbName}'`)
  }
  return store
}

/**
 * The provider's `store` option for IndexedDB: the document lives on the device,
 * shared by the tabs of this origin (so cross-tab sharing defaults on). Each
 * provider opens its own connection and closes it when destroyed; when the
 * database is closed under it, the provider goes on in memory. `onClose` here is
 * called as well.
 */
export function indexedDbStore(options: IdbClientStoreOptions = {}): ClientStoreFactory {
  const open = (hooks: ClientStoreHooks): Promise<IdbClientStore> => openIdbClientStore({
    ...options,
    onClose: (error) => {
      options.onClose?.(error)
      hooks.onClose(error)
    }
  })
  return Object.assign(open, { sharedAcrossTabs: true })
}

function globalFactory(): IDBFactory | undefined {
  try {
    return (globalThis as { indexedDB?: IDBFactory | null }).indexedDB ?? undefined
  } catch {
    // Some sandboxed or third-party contexts throw SecurityError on mere access.
    return undefined
  }
}

class IdbStore implements IdbClientStore {
  readonly dbName: string
  readonly #onClose: ((error: ClientStoreError) => void) | undefined
  #db: IDBDatabase | undefined
  #closed = false

  constructor(dbName: string, onClose: ((error: ClientStoreError) => void) | undefined) {
    this.dbName = dbName
    this.#onClose = onClose
  }

  get closed(): boolean {
    return this.#closed
  }

  attach(db: IDBDatabase): void {
    this.#db = db
    // Closed under us before we got here: release at once so we block nobody.
    if (this.#closed) db.close()
  }

  /** versionchange or a forced close: release the connection so the other side can proceed. */
  closedUnderUs(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.#db?.close()
    const error = new ClientStoreError('ERR_STORE_CLOSED', `IndexedDB database '${this.dbName}' closed: ${reason}`)
    try {
      this.#onClose?.(error)
    } catch (callbackError) {
      // The app's bug, reported as uncaught; thrown here it could disturb the other tab's upgrade.
      queueMicrotask(() => {
        throw callbackError
      })
    }
  }

  load(docName: string): Promise<ClientStoredDocument> {
    return this.#run('load', docName, ['snapshots', 'updates', 'pending'], 'readonly', async (tx) => {
      const snapshots = tx.objectStore('snapshots')
      const updatesByDoc = tx.objectStore('updates').index('doc')
      const pendingByDoc = tx.objectStore('pending').index('doc')
      const [snapshot, updateValues, updateKeys, pendingValues] = await Promise.all([
        request<unknown>(snapshots.get(docName)),
        request<unknown[]>(updatesByDoc.getAll(docName)),
        request(updatesByDoc.getAllKeys(docName)) as Promise<number[]>,
        request<PendingRecord[]>(pendingByDoc.getAll(docName))
      ])
      return {
        snapshot: snapshot === undefined ? null : checkedData(snapshot, `snapshot of document '${docName}'`),
        updates: pairUpdates(docName, updateKeys, updateValues),
        pending: pendingValues.map((record) => ({
          key: record.key,
          data: checkedData(record, `pending record ${record.key} of document '${docName}'`)
        }))
      }
    })
  }

  append(docName: string, entries: readonly ClientAppendEntry[]): Promise<ClientAppendResult> {
    // Local edits have no other copy, so ask for a flushed commit before resolving.
    const options: IDBTransactionOptions = { durability: 'strict' }
    return this.#run('append', docName, ['updates', 'pending'], 'readwrite', async (tx) => {
      const updates = tx.objectStore('updates')
      const updatesByDoc = updates.index('doc')
      const pending = tx.objectStore('pending')
      const copies = entries.map((entry) => ({ data: ownBytes(entry.data), pending: entry.pending }))
      // Requests run in issue order, so keys come back ascending.
      const keys = await issueAll(copies, ({ data }) => request(updates.add({ doc: docName, data })) as Promise<number>)
      const outbox = copies.flatMap(({ data, pending: isPending }, i) => {
        const key = keys[i]
        return isPending && key !== undefined ? [{ doc: docName, key, data }] : []
      })
      await issueAll(outbox, (record) => request(pending.add(record)))
      const updateCount = await request(updatesByDoc.count(docName))
      return { keys, updateCount }
    }, options)
  }

  acknowledge(docName: string, keys: readonly number[]): Promise<void> {
    return this.#run('acknowledge', docName, ['pending'], 'readwrite', async (tx) => {
      if (keys.length === 0) return
      const pending = tx.objectStore('pending')
      const records = await issueAll(keys, (key) => request<PendingRecord | undefined>(pending.get(key)))
      // Keys are store-wide; one that belongs to another document is ignored like an unknown one.
      const owned = records.filter((record): record is PendingRecord => record !== undefined && record.doc === docName)
      await issueAll(owned, (record) => request(pending.delete(record.key)))
    })
  }

  compact(docName: string): Promise<void> {
    return this.#run('compact', docName, ['snapshots', 'updates'], 'readwrite', async (tx) => {
      const snapshots = tx.objectStore('snapshots')
      const updates = tx.objectStore('updates')
      const updatesByDoc = updates.index('doc')
      const [snapshotRecord, values, keys] = await Promise.all([
        request<unknown>(snapshots.get(docName)),
        request<unknown[]>(updatesByDoc.getAll(docName)),
        request(updatesByDoc.getAllKeys(docName)) as Promise<number[]>
      ])
      if (keys.length === 0) return
      const read = pairUpdates(docName, keys, values)
      const snapshot = snapshotRecord === undefined ? null : checkedData(snapshotRecord, `snapshot of document '${docName}'`)
      // Synchronous, so the transaction stays active; a corrupt record throws here and #run aborts.
      const merged = foldUpdates(docName, snapshot, read)
      // Delete exactly what was read; never a range that could cover records written since.
      await Promise.all([request(snapshots.put({ doc: docName, data: merged })), issueAll(read, ({ key }) => request(updates.delete(key)))])
    })
  }

  remove(docName: string): Promise<void> {
    return this.#run('remove', docName, ['snapshots', 'updates', 'pending'], 'readwrite', async (tx) => {
      const snapshots = tx.objectStore('snapshots')
      const updates = tx.objectStore('updates')
      const updatesByDoc = updates.index('doc')
      const pending = tx.objectStore('pending')
      const pendingByDoc = pending.index('doc')
      const [updateKeys, pendingKeys] = await Promise.all([request(updatesByDoc.getAllKeys(docName)), request(pendingByDoc.getAllKeys(docName))])
      await Promise.all([
        request(snapshots.delete(docName)),
        issueAll(updateKeys, (key) => request(updates.delete(key))),
        issueAll(pendingKeys, (key) => request(pending.delete(key)))
      ])
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // Transactions already running still finish; IndexedDB closes once they have.
    this.#db?.close()
  }

  /**
   * One transaction per call. Resolves only after the transaction committed;
   * on any failure the transaction is aborted, so nothing partial is stored.
   * Every error, including synchronous ones from IndexedDB, becomes a
   * rejected ClientStoreError.
   */
  async #run<T>(
    operation: string,
    docName: string,
    storeNames: StoreName[],
    mode: IDBTransactionMode,
    body: (tx: IDBTransaction) => Promise<T>,
    options?: IDBTransactionOptions
  ): Promise<T> {
    const context = `${operation}('${docName}') failed`
    if (this.#closed || this.#db === undefined) throw closedError(context)
    try {
      const tx = this.#db.transaction(storeNames, mode, options)
      const done = committed(tx)
      // If the body fails first, its error is the one reported; done's rejection must not go unhandled.
      done.catch(() => {})
      try {
        const result = await body(tx)
        await done
        return result
      } catch (error) {
        try {
          tx.abort()
        } catch {
          // Already aborted by the failed request, or finished.
        }
        throw error
      }
    } catch (error) {
      const mapped = toClientStoreError(error, context)
      // Transactions cut off by a close under us fail with AbortError; report the cause, not the symptom.
      if (this.#closed && !isClientStoreError(error) && mapped.code === 'ERR_STORE_IO') throw closedError(context, error)
      throw mapped
    }
  }
}

/**
 * Issues one request per item. Handle lookups come first in every body, so a
 * request can only throw synchronously on bad input (e.g. a NaN key); the
 * requests already issued are then aborted with the transaction, and their
 * rejections are silenced here instead of surfacing as unhandled.
 */
function issueAll<I, T>(items: readonly I[], issue: (item: I) => Promise<T>): Promise<T[]> {
  const issued: Promise<T>[] = []
  try {
    for (const item of items) issued.push(issue(item))
  } catch (error) {
    for (const request of issued) request.catch(() => {})
    return Promise.reject(error)
  }
  return Promise.all(issued)
}

function pairUpdates(docName: string, keys: readonly number[], values: readonly unknown[]): ClientStoredUpdate[] {
  return keys.map((key, i) => ({ key, data: checkedData(values[i], `update record ${key} of document '${docName}'`) }))
}

function closedError(context: string, cause?: unknown): ClientStoreError {
  return new ClientStoreError('ERR_STORE_CLOSED', `${context}: the client store is closed`, { cause })
}
