/**
 * Optional storage methods for the relay's document API (see types.ts):
 * a paginated listing with per-document size, last sequence number and time, and
 * tombstones, the record that a document was deleted on purpose (so that no
 * other relay resurrects it by syncing it back).
 *
 * Listing order is the UTF-8 byte order of names (`compareDocNames`): the same
 * in every adapter (SQLite BINARY, PostgreSQL `COLLATE "C"`, the memory
 * adapter), so a cursor (`after`, the last name of a page) means the same
 * thing whichever adapter wrote it.
 */
import { StorageError } from './errors.js'
import { assertDocName } from './validate.js'

/** One entry of `listDocuments`. */
export interface StoredDocumentInfo {
  readonly docName: string
  /** Stored bytes: the snapshot plus the updates after it (what a load reads). */
  readonly bytes: number
  /** The document's last sequence number (its last change; it only grows, compaction included). */
  readonly lastSeq: number
  /**
   * When its last update was appended (milliseconds since the epoch, the
   * storage's clock: the database server's for PostgreSQL, so every relay of a
   * region agrees). Compaction leaves it alone (folding is not a change). Null:
   * last changed before the storage recorded this (a database migrated from an
   * older version).
   */
  readonly lastChangeAtMs: number | null
}

export interface ListDocumentsOptions {
  /** Only names starting with this ('' or absent: every name). */
  readonly prefix?: string
  /** Only names after this one in `compareDocNames` order (the last name of the previous page). */
  readonly after?: string
  /** At most this many entries, 1..MAX_LIST_DOCUMENTS. */
  readonly limit: number
}

/** Largest page of `listDocuments`. */
export const MAX_LIST_DOCUMENTS = 1000

/** A deleted document: its name may not be stored again (the relay refuses to). */
export interface DocTombstone {
  readonly docName: string
  /** When it was first deleted (milliseconds since the epoch, the deleting relay's clock). */
  readonly deletedAtMs: number
}

/** UTF-8 byte order of two names (what `listDocuments` sorts by). */
export function compareDocNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

export function assertListDocumentsOptions(options: unknown): asserts options is ListDocumentsOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object')
  const { prefix, after, limit } = options as Record<string, unknown>
  if (prefix !== undefined && typeof prefix !== 'string') throw invalid('prefix must be a string')
  if (typeof prefix === 'string' && prefix.includes('\u0000')) throw invalid('prefix must not contain U+0000')
  if (after !== undefined && after !== '') assertDocName(after)
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_DOCUMENTS) {
    throw invalid(`limit must be an integer between 1 and ${MAX_LIST_DOCUMENTS}`)
  }
}

export function assertDeletedAt(value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid('deletedAtMs must be a non-negative safe integer')
}

function invalid(message: string): StorageError {
  return new StorageError('ERR_STORAGE_INVALID_ARGUMENT', message)
}
