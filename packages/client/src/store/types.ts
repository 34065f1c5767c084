/**
 * The client-side document store contract (IndexedDB in browsers, memory or
 * fake-indexeddb in Node). Several instances (browser tabs) may share one
 * underlying database, so every operation is a single atomic transaction and
 * compaction merges whatever is stored at that moment, never what one tab
 * happens to have in memory.
 *
 * A document is: an optional snapshot, a list of update records (local and
 * remote edits, in arrival order), and a pending list (local edits the relay
 * has not acknowledged yet — the durable outbox). A pending entry keeps its own
 * copy of the update, so compaction never touches the outbox.
 */
export interface ClientStoredUpdate {
  /** Store-wide increasing key (unique across tabs sharing the database). */
  readonly key: number
  readonly data: Uint8Array
}

export interface ClientStoredDocument {
  readonly snapshot: Uint8Array | null
  /** Update records not yet folded into the snapshot, ascending by key. */
  readonly updates: readonly ClientStoredUpdate[]
  /** Local updates not yet acknowledged by a relay, ascending by key. */
  readonly pending: readonly ClientStoredUpdate[]
}

export interface ClientAppendEntry {
  readonly data: Uint8Array
  /** True for local edits: also recorded in the pending list under the same key. */
  readonly pending: boolean
}

export interface ClientAppendResult {
  /** Keys assigned to the entries, in order. */
  readonly keys: readonly number[]
  /** Update records now stored for the document (snapshot not counted); lets the caller decide when to compact. */
  readonly updateCount: number
}

export interface ClientStore {
  /** Everything stored for the document; an empty document when nothing is. */
  load(docName: string): Promise<ClientStoredDocument>
  /** Appends entries in one transaction; resolves once it has committed. */
  append(docName: string, entries: readonly ClientAppendEntry[]): Promise<ClientAppendResult>
  /** Drops pending entries the relay acknowledged. Unknown keys are ignored. */
  acknowledge(docName: string, keys: readonly number[]): Promise<void>
  /**
   * In one transaction: reads the snapshot and all update records, applies them
   * to a fresh Y.Doc, stores the re-encoded state as the new snapshot and deletes
   * the merged records (never Y.mergeUpdates on long lists).
   */
  compact(docName: string): Promise<void>
  /** Deletes the document (snapshot, updates and pending). */
  remove(docName: string): Promise<void>
  /** Releases the database. Further calls reject with ERR_STORE_CLOSED. */
  close(): Promise<void>
}

/** What the provider tells a store it opens itself (a `ClientStoreFactory`). */
export interface ClientStoreHooks {
  /**
   * The store was closed under the provider (e.g. another tab upgrading or deleting the
   * IndexedDB database, or the browser closing it): the document goes on in memory.
   */
  onClose(cause: unknown): void
}

/**
 * A store the provider opens when it loads and closes when it is destroyed:
 * `indexedDbStore()` from `@meridian/client/store`, or an app's own. A rejection
 * leaves the document working in memory (an ERR_PERSISTENCE error event).
 */
export interface ClientStoreFactory {
  (hooks: ClientStoreHooks): Promise<ClientStore>
  /**
   * Every tab of this origin that opens it sees the same data (IndexedDB): cross-tab
   * sharing (`crossTabSharing`) is then on by default. Absent: each instance is its own.
   */
  readonly sharedAcrossTabs?: boolean
}

export type { ClientStoreErrorCode } from './errors.js'
