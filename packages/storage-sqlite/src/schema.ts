import type { Database } from 'better-sqlite3'
import { StorageError } from '@meridian/storage'

/**
 * Schema migrations, indexed by the version they upgrade from: `MIGRATIONS[0]`
 * takes an empty database (user_version 0) to version 1. Append only; never edit
 * a migration that has shipped.
 *
 * Why a `next_seq` counter rather than `MAX(seq) + 1`: compaction deletes the
 * newest updates too (when it folds everything), and sequence numbers must never
 * be reused, across compaction and restarts alike.
 * STRICT so a non-blob can never land in `data`; `updates` is WITHOUT ROWID
 * because it is only ever read by its (doc, seq) key, in key order.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE documents (
    name         TEXT    NOT NULL PRIMARY KEY,
    snapshot     BLOB,
    snapshot_seq INTEGER NOT NULL DEFAULT 0 CHECK (snapshot_seq >= 0),
    next_seq     INTEGER NOT NULL DEFAULT 1 CHECK (next_seq > snapshot_seq)
  ) STRICT;

  CREATE TABLE updates (
    doc  TEXT    NOT NULL,
    seq  INTEGER NOT NULL CHECK (seq > 0),
    data BLOB    NOT NULL,
    PRIMARY KEY (doc, seq)
  ) STRICT, WITHOUT ROWID;
  `,
  // When the last update was appended (listDocuments); NULL for documents last changed before version 2.
  `
  ALTER TABLE documents ADD COLUMN last_change_at_ms INTEGER CHECK (last_change_at_ms >= 0);
  `
]

export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the schema to `SCHEMA_VERSION` in one IMMEDIATE transaction, so two
 * processes opening a fresh file at once cannot both run a migration.
 */
export function migrate(db: Database): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true })
    if (typeof version !== 'number') throw new Error(`unexpected user_version ${String(version)}`)
    if (version > SCHEMA_VERSION) {
      throw new StorageError(
        'ERR_STORAGE_IO',
        `database schema version ${version} is newer than this adapter supports (${SCHEMA_VERSION}); refusing to open`
      )
    }
    for (let from = version; from < SCHEMA_VERSION; from++) db.exec(MIGRATIONS[from] ?? '')
    // user_version lives in the database header and is transactional, so a crash mid-migration rolls it back too.
    if (version !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`)
  }).immediate()
}
