import type { Database } from 'better-sqlite3'
import { unionMeshMembers, type StoredMeshMember } from '@meridian/storage'

/**
 * What a relay remembers of its mesh (see @meridian/storage mesh-members.ts).
 * Its own table, created on first use rather than by a schema migration: an
 * optional feature that older files simply do not have yet.
 */
const CREATE = `CREATE TABLE IF NOT EXISTS mesh_members (
  observer    TEXT    NOT NULL,
  node_id     TEXT    NOT NULL,
  region      TEXT    NOT NULL,
  url         TEXT    NOT NULL,
  incarnation INTEGER NOT NULL CHECK (incarnation >= 0),
  PRIMARY KEY (observer, node_id)
) STRICT, WITHOUT ROWID`

const ready = new WeakSet<Database>()
const ensureTable = (db: Database): void => {
  if (ready.has(db)) return
  db.exec(CREATE)
  ready.add(db)
}

/** Replaces `observer`'s rows in one transaction. */
export function saveSqliteMeshMembers(db: Database, observer: string, members: readonly StoredMeshMember[]): void {
  ensureTable(db)
  const del = db.prepare('DELETE FROM mesh_members WHERE observer = ?')
  const ins = db.prepare('INSERT OR REPLACE INTO mesh_members (observer, node_id, region, url, incarnation) VALUES (?, ?, ?, ?, ?)')
  db.transaction(() => {
    del.run(observer)
    for (const m of members) ins.run(observer, m.nodeId, m.region, m.url, m.incarnation)
  }).immediate()
}

export function loadSqliteMeshMembers(db: Database): StoredMeshMember[] {
  ensureTable(db)
  const rows = db.prepare('SELECT node_id, region, url, incarnation FROM mesh_members').all() as { node_id: string; region: string; url: string; incarnation: number }[]
  return unionMeshMembers(rows.map((r) => ({ nodeId: r.node_id, region: r.region, url: r.url, incarnation: r.incarnation })))
}
