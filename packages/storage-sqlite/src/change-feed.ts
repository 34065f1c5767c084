import type { Database } from 'better-sqlite3'
import { parsePositionCursor, type ChangeLogEntry, type ChangesPage, type StoredUpdate } from '@meridian/storage'

/**
 * The change feed's tables (@meridian/storage change-feed.ts), created when the
 * adapter opens rather than by a schema migration: an optional feature that
 * older files simply do not have yet. The log is filled by triggers, so every
 * write path (append, appendMany, compact, remove) keeps it in the same
 * transaction. One writer at a time: AUTOINCREMENT order is commit order.
 * Created together with the log, it is seeded with each document's head, so
 * documents stored before show up once.
 */
const CREATE = `
  CREATE TABLE change_log (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    doc TEXT    NOT NULL,
    seq INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX change_log_doc ON change_log (doc, seq);
  CREATE TRIGGER change_log_append AFTER INSERT ON updates
  BEGIN INSERT INTO change_log (doc, seq) VALUES (NEW.doc, NEW.seq); END;
  -- Compaction keeps the newest folded entry: a reader behind it learns the document changed.
  CREATE TRIGGER change_log_compact AFTER UPDATE OF snapshot_seq ON documents WHEN NEW.snapshot_seq > OLD.snapshot_seq
  BEGIN DELETE FROM change_log WHERE doc = NEW.name AND seq < NEW.snapshot_seq; END;
  CREATE TRIGGER change_log_remove AFTER DELETE ON documents
  BEGIN DELETE FROM change_log WHERE doc = OLD.name; END;
  INSERT INTO change_log (doc, seq) SELECT name, next_seq - 1 FROM documents WHERE next_seq > 1 ORDER BY name;
  CREATE TABLE IF NOT EXISTS cursors (
    consumer TEXT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (consumer, key)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS leases (
    name     TEXT    NOT NULL PRIMARY KEY,
    holder   TEXT    NOT NULL,
    until_ms INTEGER NOT NULL
  ) STRICT;
`

/** Creates the tables and triggers once per file (in one IMMEDIATE transaction: two processes may open it at once). */
export function ensureChangeFeed(db: Database): void {
  db.transaction(() => {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'change_log'").get()
    if (exists === undefined) db.exec(CREATE)
  }).immediate()
}

export class SqliteChangeFeed {
  readonly #db: Database
  readonly #doc
  readonly #updates
  readonly #log
  readonly #cursors
  readonly #putCursor
  readonly #deleteCursor
  readonly #lease
  readonly #release
  readonly #read

  constructor(db: Database) {
    this.#db = db
    this.#doc = db.prepare<[{ after: number; name: string }], { snapshot: Uint8Array | null; snapshot_seq: number; next_seq: number }>(
      'SELECT CASE WHEN snapshot_seq > @after THEN snapshot END AS snapshot, snapshot_seq, next_seq FROM documents WHERE name = @name'
    )
    this.#updates = db.prepare<[string, number, number], { seq: number; data: Uint8Array }>('SELECT seq, data FROM updates WHERE doc = ? AND seq > ? ORDER BY seq LIMIT ?')
    this.#log = db.prepare<[number, number], { pos: number; doc: string; seq: number; data: Uint8Array | null }>(
      `SELECT l.pos, l.doc, l.seq, u.data FROM change_log l LEFT JOIN updates u ON u.doc = l.doc AND u.seq = l.seq
        WHERE l.pos > ? ORDER BY l.pos LIMIT ?`
    )
    this.#cursors = db.prepare<[string], { key: string; value: string }>('SELECT key, value FROM cursors WHERE consumer = ?')
    this.#putCursor = db.prepare<[string, string, string]>('INSERT INTO cursors (consumer, key, value) VALUES (?, ?, ?) ON CONFLICT (consumer, key) DO UPDATE SET value = excluded.value')
    this.#deleteCursor = db.prepare<[string, string]>('DELETE FROM cursors WHERE consumer = ? AND key = ?')
    this.#lease = db.prepare<[{ name: string; holder: string; now: number; ttl: number }], { holder: string }>(
      `INSERT INTO leases (name, holder, until_ms) VALUES (@name, @holder, @now + @ttl)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms
       WHERE leases.holder = excluded.holder OR leases.until_ms <= @now
       RETURNING holder`
    )
    this.#release = db.prepare<[string, string]>('DELETE FROM leases WHERE name = ? AND holder = ?')
    // One read transaction: a compaction by another connection is seen whole or not at all.
    this.#read = db.transaction((docName: string, afterSeq: number, limit: number): ChangesPage | null => {
      const row = this.#doc.get({ after: afterSeq, name: docName })
      if (row === undefined) return null
      const updates: StoredUpdate[] = this.#updates.all(docName, Math.max(afterSeq, row.snapshot_seq), limit).map((u) => ({ seq: u.seq, data: new Uint8Array(u.data) }))
      return { snapshot: row.snapshot === null ? null : { seq: row.snapshot_seq, data: new Uint8Array(row.snapshot) }, updates, headSeq: row.next_seq - 1 }
    })
  }

  readChanges(docName: string, afterSeq: number, limit: number): ChangesPage | null {
    return this.#read.deferred(docName, afterSeq, limit)
  }

  readLog(after: string | null, limit: number): ChangeLogEntry[] {
    const from = parsePositionCursor(after)
    return this.#log.all(from, limit).map((r) => ({ cursor: String(r.pos), doc: r.doc, seq: r.seq, data: r.data === null ? null : new Uint8Array(r.data) }))
  }

  loadCursors(consumer: string): Record<string, string> {
    return Object.fromEntries(this.#cursors.all(consumer).map((r) => [r.key, r.value]))
  }

  saveCursors(consumer: string, values: Readonly<Record<string, string | null>>): void {
    this.#db.transaction(() => {
      for (const [key, value] of Object.entries(values)) {
        if (value === null) this.#deleteCursor.run(consumer, key)
        else this.#putCursor.run(consumer, key, value)
      }
    }).immediate()
  }

  acquireLease(name: string, holder: string, ttlMs: number): boolean {
    return this.#lease.get({ name, holder, now: Date.now(), ttl: ttlMs }) !== undefined
  }

  releaseLease(name: string, holder: string): void {
    this.#release.run(name, holder)
  }
}
