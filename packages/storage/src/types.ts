import type { StoredUpdate } from './stored-update.js'
import type { StoredMeshMember } from './mesh-members.js'
import type { ChangeFeedStorage } from './change-feed.js'
import type { DocTombstone, ListDocumentsOptions, StoredDocumentInfo } from './doc-index.js'

/**
 * The relay storage contract. Small on purpose (automerge-repo style): an adapter
 * stores, per document, an optional snapshot plus an append-only list of updates
 * numbered by a per-document sequence. Everything else (applying, merging,
 * deciding when to compact) lives in the relay, so every adapter behaves the same.
 *
 * Invariants every adapter must keep (checked by `runStorageConformance`):
 * - `append` resolves only once the update is durable; its sequence number is
 *   strictly greater than every earlier one for that document, including
 *   sequence numbers already folded into a snapshot.
 * - `load` returns the snapshot (if any) and exactly the updates with
 *   `seq > snapshotSeq`, in ascending `seq` order. A reader never sees a
 *   half-applied compaction.
 * - `compact(doc, snapshot, throughSeq)` atomically stores `snapshot` as the
 *   state of every update with `seq <= throughSeq` and drops those updates.
 *   Updates appended meanwhile (`seq > throughSeq`) are kept. A compaction whose
 *   `throughSeq` is not greater than the stored `snapshotSeq` is a no-op, so
 *   concurrent or repeated compactions never go backwards.
 * - Data passed in is copied or never mutated; data handed out is the caller's.
 * - Methods never throw synchronously: failures are rejected promises carrying a
 *   `StorageError` (errors.ts). Arguments are checked by the shared validators in
 *   validate.ts (doc names: non-empty, at most `MAX_DOC_NAME_BYTES` UTF-8 bytes).
 * - `remove` forgets a document completely, its sequence counter included: a
 *   document stored again under the same name starts from scratch.
 * - `appendMany` (optional) is `append` of each update in order, committed
 *   together: all of them are durable when it resolves, none if it rejects.
 * - `listDocuments`, `tombstone`, `loadTombstone`, `listTombstones` (optional,
 *   doc-index.ts, all four or none): a tombstone outlives `remove` and reopen;
 *   a tombstoned name is left out of `listDocuments` even if updates were
 *   appended under it afterwards (a relay that had not heard of the deletion).
 */
export type { StoredUpdate } from './stored-update.js'

export interface StoredDocument {
  /** Encoded Yjs state covering every update with `seq <= snapshotSeq`, or null. */
  readonly snapshot: Uint8Array | null
  /** 0 when there is no snapshot. */
  readonly snapshotSeq: number
  /** Updates with `seq > snapshotSeq`, ascending. */
  readonly updates: readonly StoredUpdate[]
}

/** The change-feed methods are optional (change-feed.ts). */
export interface StorageAdapter extends ChangeFeedStorage {
  /** Null when the document has never been stored (or was removed). */
  load(docName: string): Promise<StoredDocument | null>
  /** Durably appends one update; resolves with its sequence number. */
  append(docName: string, update: Uint8Array): Promise<number>
  /**
   * Optional group commit: durably appends `updates` in order as one atomic
   * commit (one fsync, one round trip) and resolves with their sequence
   * numbers, ascending; each update stays its own stored entry. An empty list
   * resolves `[]` and stores nothing. Callers without it append one by one.
   */
  appendMany?(docName: string, updates: readonly Uint8Array[]): Promise<number[]>
  /** Replaces updates `seq <= throughSeq` by `snapshot`, atomically. */
  compact(docName: string, snapshot: Uint8Array, throughSeq: number): Promise<void>
  /** Deletes the document entirely. Removing an unknown document is not an error. */
  remove(docName: string): Promise<void>
  /** Names of all stored documents (any order). */
  list(): Promise<string[]>
  /** Flushes and releases resources. Further calls reject with ERR_STORAGE_CLOSED. */
  close(): Promise<void>
  /**
   * Optional (doc-index.ts): stored documents in UTF-8 byte order of their
   * names, after `after`, starting with `prefix`, at most `limit`, without
   * tombstoned names. Reads indexes only, never every document.
   */
  listDocuments?(options: ListDocumentsOptions): Promise<StoredDocumentInfo[]>
  /**
   * Optional: removes the document and records its tombstone, atomically.
   * Idempotent: a name tombstoned already keeps its first `deletedAtMs`.
   */
  tombstone?(docName: string, deletedAtMs: number): Promise<void>
  /** Optional: the document's tombstone, or null. */
  loadTombstone?(docName: string): Promise<DocTombstone | null>
  /** Optional: every tombstone (any order). */
  listTombstones?(): Promise<DocTombstone[]>
  /** Optional (mesh-members.ts): replaces what relay `observerNodeId` remembers of its mesh. */
  saveMeshMembers?(observerNodeId: string, members: readonly StoredMeshMember[]): Promise<void>
  /** Optional (mesh-members.ts): every remembered member, one record per node (highest incarnation). */
  loadMeshMembers?(): Promise<StoredMeshMember[]>
}
