/**
 * The document statements of the SQLite adapter, prepared once per
 * connection, and the transactions built on them (load, append, compact,
 * remove): each one transaction, so a crash or a concurrent reader never
 * observes half of it.
 */
import type { Database as SqliteDatabase, Statement, Transaction } from 'better-sqlite3'
import { StorageError, type StoredDocument, type StoredUpdate } from '@meridian/storage'

interface DocumentRow {
  snapshot: Uint8Array | null
  snapshot_seq: number
  next_seq: number
}

interface Statements {
  nextSeq: Statement<[string, number], { seq: number }>
  insertUpdate: Statement<[string, number, Uint8Array]>
  selectDocument: Statement<[string], DocumentRow>
  selectUpdates: Statement<[string, number], { seq: number; data: Uint8Array }>
  setSnapshot: Statement<[Uint8Array, number, string]>
  deleteUpdatesThrough: Statement<[string, number]>
  deleteUpdates: Statement<[string]>
  deleteDocument: Statement<[string]>
  listNames: Statement<[], string>
}

export interface Transactions {
  load: Transaction<(docName: string) => StoredDocument | null>
  append: Transaction<(docName: string, update: Uint8Array) => number>
  appendMany: Transaction<(docName: string, updates: readonly Uint8Array[]) => number[]>
  compact: Transaction<(docName: string, snapshot: Uint8Array, throughSeq: number) => void>
  remove: Transaction<(docName: string) => void>
  list: () => string[]
}

/** Built once per connection; the mode (deferred / immediate) is chosen at the call site. */
export function createTransactions(db: SqliteDatabase, sql: Statements): Transactions {
  const insert = (docName: string, update: Uint8Array, nowMs: number): number => {
    const seq = sql.nextSeq.get(docName, nowMs)?.seq
    if (seq === undefined) throw new Error('sequence upsert returned no row')
    sql.insertUpdate.run(docName, seq, update)
    return seq
  }
  return {
    load: db.transaction((docName: string): StoredDocument | null => {
      const row = sql.selectDocument.get(docName)
      if (row === undefined) return null
      const updates: StoredUpdate[] = sql.selectUpdates
        .all(docName, row.snapshot_seq)
        .map((u) => ({ seq: u.seq, data: plainCopy(u.data) }))
      return {
        snapshot: row.snapshot === null ? null : plainCopy(row.snapshot),
        snapshotSeq: row.snapshot_seq,
        updates
      }
    }),

    // The process clock stamps the last change (the database is in-process: the same clock).
    append: db.transaction((docName: string, update: Uint8Array): number => insert(docName, update, Date.now())),

    appendMany: db.transaction((docName: string, updates: readonly Uint8Array[], nowMs = Date.now()): number[] => updates.map((u) => insert(docName, u, nowMs))),

    compact: db.transaction((docName: string, snapshot: Uint8Array, throughSeq: number): void => {
      const row = sql.selectDocument.get(docName)
      const snapshotSeq = row?.snapshot_seq ?? 0
      const nextSeq = row?.next_seq ?? 1
      // Stale or repeated compaction: never move backwards.
      if (throughSeq <= snapshotSeq) return
      if (throughSeq >= nextSeq) {
        throw new StorageError(
          'ERR_STORAGE_INVALID_ARGUMENT',
          `throughSeq ${throughSeq} is beyond the last appended seq ${nextSeq - 1} of "${docName}"`
        )
      }
      sql.setSnapshot.run(snapshot, throughSeq, docName)
      sql.deleteUpdatesThrough.run(docName, throughSeq)
    }),

    remove: db.transaction((docName: string): void => {
      sql.deleteUpdates.run(docName)
      sql.deleteDocument.run(docName)
    }),

    list: (): string[] => sql.listNames.all()
  }
}

export function prepareStatements(db: SqliteDatabase): Statements {
  return {
    // Upsert bumps the per-document counter and returns the seq just claimed (1 for a new document).
    nextSeq: db.prepare(
      `INSERT INTO documents (name, next_seq, last_change_at_ms) VALUES (?, 2, ?)
       ON CONFLICT (name) DO UPDATE SET next_seq = next_seq + 1, last_change_at_ms = excluded.last_change_at_ms
       RETURNING next_seq - 1 AS seq`
    ),
    insertUpdate: db.prepare('INSERT INTO updates (doc, seq, data) VALUES (?, ?, ?)'),
    selectDocument: db.prepare('SELECT snapshot, snapshot_seq, next_seq FROM documents WHERE name = ?'),
    selectUpdates: db.prepare('SELECT seq, data FROM updates WHERE doc = ? AND seq > ? ORDER BY seq'),
    setSnapshot: db.prepare('UPDATE documents SET snapshot = ?, snapshot_seq = ? WHERE name = ?'),
    deleteUpdatesThrough: db.prepare('DELETE FROM updates WHERE doc = ? AND seq <= ?'),
    deleteUpdates: db.prepare('DELETE FROM updates WHERE doc = ?'),
    deleteDocument: db.prepare('DELETE FROM documents WHERE name = ?'),
    listNames: db.prepare<[], string>('SELECT name FROM documents').pluck()
  }
}

/** better-sqlite3 hands out Buffers; callers get plain Uint8Arrays they own. */
function plainCopy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}
