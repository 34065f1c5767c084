import type { Database } from 'better-sqlite3'
import type { DocTombstone, ListDocumentsOptions, StoredDocumentInfo } from '@meridian/storage'

/**
 * Listing and tombstones (see @meridian/storage doc-index.ts). The tombstone
 * table is created on first use, like mesh_members: an optional feature older
 * files do not have yet, and no schema migration to order against others.
 * Names compare with SQLite's BINARY collation: UTF-8 byte order.
 */
const CREATE = `CREATE TABLE IF NOT EXISTS doc_tombstones (
  name          TEXT    NOT NULL PRIMARY KEY,
  deleted_at_ms INTEGER NOT NULL CHECK (deleted_at_ms >= 0)
) STRICT, WITHOUT ROWID`

const ready = new WeakSet<Database>()
const ensureTable = (db: Database): void => {
  if (ready.has(db)) return
  db.exec(CREATE)
  ready.add(db)
}

/** One page, from the primary key index; sizes are summed per listed document only. */
export function listSqliteDocuments(db: Database, options: ListDocumentsOptions): StoredDocumentInfo[] {
  ensureTable(db)
  const prefix = options.prefix ?? ''
  const rows = db.prepare(
    `SELECT d.name AS name, d.next_seq - 1 AS last_seq, d.last_change_at_ms AS last_change_at_ms,
            COALESCE(length(d.snapshot), 0)
              + COALESCE((SELECT sum(length(u.data)) FROM updates u WHERE u.doc = d.name AND u.seq > d.snapshot_seq), 0) AS bytes
       FROM documents d
      WHERE d.name > ? AND d.name >= ? AND substr(d.name, 1, length(?)) = ?
        AND NOT EXISTS (SELECT 1 FROM doc_tombstones t WHERE t.name = d.name)
      ORDER BY d.name
      LIMIT ?`
  ).all(options.after ?? '', prefix, prefix, prefix, options.limit) as { name: string; last_seq: number; last_change_at_ms: number | null; bytes: number }[]
  return rows.map((r) => ({ docName: r.name, bytes: r.bytes, lastSeq: r.last_seq, lastChangeAtMs: r.last_change_at_ms }))
}

/** Removes the document and records the tombstone in one transaction (the first deletion time wins). */
export function tombstoneSqlite(db: Database, docName: string, deletedAtMs: number): void {
  ensureTable(db)
  const insert = db.prepare('INSERT INTO doc_tombstones (name, deleted_at_ms) VALUES (?, ?) ON CONFLICT (name) DO NOTHING')
  const delUpdates = db.prepare('DELETE FROM updates WHERE doc = ?')
  const delDocument = db.prepare('DELETE FROM documents WHERE name = ?')
  db.transaction(() => {
    insert.run(docName, deletedAtMs)
    delUpdates.run(docName)
    delDocument.run(docName)
  }).immediate()
}

export function loadSqliteTombstone(db: Database, docName: string): DocTombstone | null {
  ensureTable(db)
  const row = db.prepare('SELECT deleted_at_ms FROM doc_tombstones WHERE name = ?').get(docName) as { deleted_at_ms: number } | undefined
  return row === undefined ? null : { docName, deletedAtMs: row.deleted_at_ms }
}

export function listSqliteTombstones(db: Database): DocTombstone[] {
  ensureTable(db)
  const rows = db.prepare('SELECT name, deleted_at_ms FROM doc_tombstones').all() as { name: string; deleted_at_ms: number }[]
  return rows.map((r) => ({ docName: r.name, deletedAtMs: r.deleted_at_ms }))
}
