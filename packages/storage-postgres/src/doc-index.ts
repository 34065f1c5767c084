import type { PoolClient } from 'pg'
import type { DocTombstone, ListDocumentsOptions, StoredDocumentInfo } from '@meridian/storage'
import { quoteIdent } from './schema.js'

type Query = (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }>

/**
 * Listing and tombstones (see @meridian/storage doc-index.ts). The tombstone
 * table is created on first use, like mesh_members (an optional feature, no
 * migration). Names compare `COLLATE "C"`: UTF-8 byte order in a UTF-8
 * database, whatever the database's default collation.
 */
export class PgDocIndex {
  readonly #S: string
  #created: Promise<void> | null = null

  constructor(schema: string) {
    this.#S = quoteIdent(schema)
  }

  /** Creates the table once per adapter; relays racing to create it is fine (IF NOT EXISTS, retried once). */
  ensure(query: Query): Promise<void> {
    const create = `CREATE TABLE IF NOT EXISTS ${this.#S}.doc_tombstones (
      name text NOT NULL PRIMARY KEY, deleted_at_ms bigint NOT NULL CHECK (deleted_at_ms >= 0))`
    this.#created ??= query(create).catch(() => query(create)).then(() => undefined)
    this.#created.catch(() => {
      this.#created = null
    })
    return this.#created
  }

  async list(query: Query, options: ListDocumentsOptions): Promise<StoredDocumentInfo[]> {
    const S = this.#S
    const prefix = options.prefix ?? ''
    const { rows } = await query(
      `SELECT d.name, d.next_seq - 1 AS last_seq, d.last_change_at_ms,
              COALESCE(octet_length(d.snapshot), 0)
                + COALESCE((SELECT sum(octet_length(u.data)) FROM ${S}.updates u WHERE u.doc = d.name AND u.seq > d.snapshot_seq), 0) AS bytes
         FROM ${S}.documents d
        WHERE d.name COLLATE "C" > $1 AND d.name COLLATE "C" >= $2 AND left(d.name, length($2)) = $2
          AND NOT EXISTS (SELECT 1 FROM ${S}.doc_tombstones t WHERE t.name = d.name)
        ORDER BY d.name COLLATE "C"
        LIMIT $3`,
      [options.after ?? '', prefix, options.limit]
    )
    return (rows as { name: string; last_seq: string; last_change_at_ms: string | null; bytes: string }[]).map((r) => ({
      docName: r.name,
      bytes: Number(r.bytes),
      lastSeq: Number(r.last_seq),
      lastChangeAtMs: r.last_change_at_ms === null ? null : Number(r.last_change_at_ms)
    }))
  }

  /** In the caller's transaction: records the tombstone (the first time wins) and removes the document. */
  async tombstone(client: PoolClient, docName: string, deletedAtMs: number): Promise<void> {
    await client.query(`INSERT INTO ${this.#S}.doc_tombstones (name, deleted_at_ms) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [docName, deletedAtMs])
    // ON DELETE CASCADE takes the updates with it.
    await client.query(`DELETE FROM ${this.#S}.documents WHERE name = $1`, [docName])
  }

  async load(query: Query, docName: string): Promise<DocTombstone | null> {
    const { rows } = await query(`SELECT deleted_at_ms FROM ${this.#S}.doc_tombstones WHERE name = $1`, [docName])
    const row = rows[0] as { deleted_at_ms: string } | undefined
    return row === undefined ? null : { docName, deletedAtMs: Number(row.deleted_at_ms) }
  }

  async all(query: Query): Promise<DocTombstone[]> {
    const { rows } = await query(`SELECT name, deleted_at_ms FROM ${this.#S}.doc_tombstones`)
    return (rows as { name: string; deleted_at_ms: string }[]).map((r) => ({ docName: r.name, deletedAtMs: Number(r.deleted_at_ms) }))
  }
}
