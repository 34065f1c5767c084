import { isBytes } from './bytes.js'
import { corruptRecord } from './compaction.js'

/**
 * Schema version 1.
 *
 * - `updates`: out-of-line autoIncrement key (the store-wide key), value
 *   `{ doc, data }`, index `doc`. Index entries sort by (doc, primary key), so
 *   `index('doc').getAll(docName)` reads one document's records in key order
 *   without touching other documents.
 * - `pending`: keyed by the `key` of the matching update record, value
 *   `{ doc, key, data }`, index `doc`.
 * - `snapshots`: keyed by document name, value `{ doc, data }`.
 */
export const IDB_SCHEMA_VERSION = 1

export interface UpdateRecord {
  readonly doc: string
  readonly data: Uint8Array
}

export interface PendingRecord {
  readonly doc: string
  readonly key: number
  readonly data: Uint8Array
}

export interface SnapshotRecord {
  readonly doc: string
  readonly data: Uint8Array
}

/** The object stores. */
export type StoreName = 'updates' | 'pending' | 'snapshots'

/** Runs inside the versionchange transaction; raw IDB because creating stores is synchronous. */
export function upgradeSchema(db: IDBDatabase, oldVersion: number): void {
  if (oldVersion < 1) {
    const updates = db.createObjectStore('updates', { autoIncrement: true })
    updates.createIndex('doc', 'doc')
    const pending = db.createObjectStore('pending', { keyPath: 'key' })
    pending.createIndex('doc', 'doc')
    db.createObjectStore('snapshots', { keyPath: 'doc' })
  }
}

/**
 * Values read back are only as trustworthy as whoever wrote them (another
 * version of the app, devtools, a broken browser). A record that is not the
 * expected shape fails the whole read with ERR_STORE_IO naming it, rather than
 * being skipped and later deleted by a compaction.
 */
export function checkedData(value: unknown, what: string): Uint8Array {
  const data = typeof value === 'object' && value !== null ? (value as { data?: unknown }).data : undefined
  if (!isBytes(data)) throw corruptRecord(what)
  return data
}
