import type { PoolClient } from 'pg'
import { StorageError } from '@meridian/storage'

/**
 * Schema migrations, in order: `MIGRATIONS[0]` takes an empty schema to version 1.
 * Append only; never edit a migration that has shipped. `$S` is replaced by the
 * quoted schema name.
 *
 * Same shape as the SQLite adapter, for the same reasons: a per-document
 * `next_seq` counter (never `MAX(seq) + 1`: compaction deletes the newest
 * updates too, and seqs must never be reused). Because every append bumps that
 * counter with an UPDATE of the document's row, appends to one document are
 * serialized by the row lock across every relay sharing the database: seq n+1
 * cannot be claimed before seq n is committed, so a reader never sees a gap that
 * a later commit would fill (which would let a compaction fold past an update
 * it never saw).
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE $S.documents (
    name         text   NOT NULL PRIMARY KEY,
    snapshot     bytea,
    snapshot_seq bigint NOT NULL DEFAULT 0 CHECK (snapshot_seq >= 0),
    next_seq     bigint NOT NULL DEFAULT 1 CHECK (next_seq > snapshot_seq)
  );
  CREATE TABLE $S.updates (
    doc  text   NOT NULL REFERENCES $S.documents (name) ON DELETE CASCADE,
    seq  bigint NOT NULL CHECK (seq > 0),
    data bytea  NOT NULL,
    PRIMARY KEY (doc, seq)
  );
  `,
  // When the last update was appended (listDocuments), by the database's clock; NULL for documents last changed before version 2.
  `
  ALTER TABLE $S.documents ADD COLUMN last_change_at_ms bigint CHECK (last_change_at_ms >= 0);
  `
]

export const SCHEMA_VERSION = MIGRATIONS.length

/** SQL for the `last_change_at_ms` stamp: the database's clock (one for every relay of a region), in ms. */
export const NOW_MS = `(extract(epoch FROM now()) * 1000)::bigint`

/** Table of applied migrations (one row per version), inside the adapter's schema. */
const VERSION_TABLE = 'meridian_schema_version'

/**
 * Creates the schema if needed and brings it to `SCHEMA_VERSION`, in one
 * transaction under a transaction-scoped advisory lock keyed by the schema name:
 * several relays starting at once against a fresh database queue up here, the
 * first one migrates, the others find the work done. DDL is transactional in
 * PostgreSQL, so a crash mid-migration leaves the previous version intact.
 */
export async function migrate(client: PoolClient, schema: string): Promise<void> {
  const S = quoteIdent(schema)
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`meridian:migrate:${schema}`])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${S}`)
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${S}.${VERSION_TABLE} (
         version    integer     NOT NULL PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`
    )
    const result = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${S}.${VERSION_TABLE}`)
    const current = result.rows[0]?.version ?? 0
    if (current > SCHEMA_VERSION) {
      throw new StorageError(
        'ERR_STORAGE_IO',
        `schema "${schema}" is at version ${current}, newer than this adapter supports (${SCHEMA_VERSION}); refusing to open`
      )
    }
    for (let from = current; from < SCHEMA_VERSION; from++) {
      await client.query((MIGRATIONS[from] ?? '').replaceAll('$S', S))
      await client.query(`INSERT INTO ${S}.${VERSION_TABLE} (version) VALUES ($1)`, [from + 1])
    }
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw err
  }
}

/** Schema names are plain identifiers: lower-case letters, digits and `_`, at most 63 bytes. */
export const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
