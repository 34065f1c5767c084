/**
 * Optional adapter methods behind the relay's change feed and webhooks
 * (packages/relay/src/changes/). Adapters without them keep working; the relay
 * then answers the feed routes with 501 and refuses webhook options.
 *
 * - `readChanges(doc, afterSeq, limit)`: the changes after `afterSeq`, without
 *   loading the whole document: the snapshot is handed out only when the caller
 *   asks for changes that were folded into it (`afterSeq < snapshotSeq`).
 * - `readChangeLog(after, limit)`: the relay-wide log, one entry per appended
 *   update `(doc, seq)` in commit order, each with an opaque `cursor` that the
 *   next call takes as `after`. Commit order is what matters with several relays
 *   on one database: an entry never appears before a cursor already handed out
 *   (PostgreSQL orders by transaction id and only shows transactions older than
 *   every one still running). Compaction prunes a document's entries folded
 *   into the snapshot except the newest one, whose `data` is then null (read the
 *   document's changes to get the snapshot); `remove` drops them all. An
 *   adapter may create its log on the first call (then seeded with one entry
 *   per stored document, at its head): callers start it with `readChangeLog(null, 0)`.
 * - `loadCursors` / `saveCursors`: small string values per consumer (a webhook),
 *   durable like updates; saving a null value deletes the key.
 * - `acquireLease` / `releaseLease`: one holder per lease name at a time, for a
 *   time-to-live measured by the storage's own clock (shared by every relay on
 *   one database); the holder renews by acquiring again.
 */
import type { StoredUpdate } from './stored-update.js'
import { StorageError } from './errors.js'

export interface ChangesPage {
  /** The stored state through `seq` (= snapshotSeq), present only when `afterSeq < snapshotSeq`. */
  readonly snapshot: { readonly seq: number; readonly data: Uint8Array } | null
  /** Updates with seq > max(afterSeq, snapshotSeq), ascending, at most `limit`. */
  readonly updates: readonly StoredUpdate[]
  /** The last sequence number ever appended to the document (0 if none). */
  readonly headSeq: number
}

export interface ChangeLogEntry {
  /** Opaque, adapter-defined; pass it back as `after` to read what follows. */
  readonly cursor: string
  readonly doc: string
  readonly seq: number
  /** The update, or null once it was folded into the document's snapshot. */
  readonly data: Uint8Array | null
}

export interface ChangeFeedStorage {
  readChanges?(docName: string, afterSeq: number, limit: number): Promise<ChangesPage | null>
  /** `after` null: from the start of the log. */
  readChangeLog?(after: string | null, limit: number): Promise<ChangeLogEntry[]>
  loadCursors?(consumer: string): Promise<Record<string, string>>
  /** Atomic: every key is written (or deleted, for null) or none. */
  saveCursors?(consumer: string, values: Readonly<Record<string, string | null>>): Promise<void>
  /** True if `holder` now holds `name` for `ttlMs` (taken free or expired, or renewed). */
  acquireLease?(name: string, holder: string, ttlMs: number): Promise<boolean>
  /** Lets go of `name` if `holder` holds it. */
  releaseLease?(name: string, holder: string): Promise<void>
}

/** Most entries one read returns. */
export const MAX_CHANGES_LIMIT = 10_000

const invalid = (message: string): StorageError => new StorageError('ERR_STORAGE_INVALID_ARGUMENT', message)

export function assertLimit(value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_CHANGES_LIMIT) {
    throw invalid(`limit must be an integer between 0 and ${MAX_CHANGES_LIMIT}`)
  }
}

/** Consumer, key, lease and holder names: 1 to 1024 characters without U+0000. */
export function assertKey(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024 || value.includes('\u0000')) {
    throw invalid(`${what} must be a string of 1 to 1024 characters without U+0000`)
  }
}

export function assertCursorValues(values: unknown): asserts values is Readonly<Record<string, string | null>> {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) throw invalid('values must be an object')
  for (const [key, value] of Object.entries(values)) {
    assertKey(key, 'cursor key')
    if (value !== null && (typeof value !== 'string' || value.length > 65_536)) throw invalid('a cursor value must be a string of at most 65536 characters, or null')
  }
}

export function assertTtl(value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 86_400_000) throw invalid('ttlMs must be an integer between 1 and 86400000')
}

/** Integer cursors (memory, SQLite): a position in the log. */
export function parsePositionCursor(after: string | null): number {
  if (after === null) return 0
  if (!/^\d{1,15}$/.test(after)) throw invalid(`invalid change-log cursor ${JSON.stringify(after.slice(0, 40))}`)
  return Number(after)
}
