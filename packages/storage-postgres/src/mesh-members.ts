import type { PoolClient } from 'pg'
import { unionMeshMembers, type StoredMeshMember } from '@meridian/storage'
import { quoteIdent } from './schema.js'

/**
 * What the relays of a region remember of their mesh (see @meridian/storage
 * mesh-members.ts), one row per (observer, node). Its own table, created on
 * first use rather than by a schema migration: an optional feature.
 */
export class PgMeshMembers {
  readonly #table: string
  #created: Promise<void> | null = null

  constructor(schema: string) {
    this.#table = `${quoteIdent(schema)}.mesh_members`
  }

  /** Creates the table once per adapter; several relays racing to create it is fine (IF NOT EXISTS, retried once). */
  ensure(query: (text: string) => Promise<unknown>): Promise<void> {
    const create = `CREATE TABLE IF NOT EXISTS ${this.#table} (
      observer TEXT NOT NULL, node_id TEXT NOT NULL, region TEXT NOT NULL, url TEXT NOT NULL,
      incarnation BIGINT NOT NULL CHECK (incarnation >= 0), PRIMARY KEY (observer, node_id))`
    this.#created ??= query(create).catch(() => query(create)).then(() => undefined)
    this.#created.catch(() => {
      this.#created = null
    })
    return this.#created
  }

  async save(client: PoolClient, observer: string, members: readonly StoredMeshMember[]): Promise<void> {
    await client.query(`DELETE FROM ${this.#table} WHERE observer = $1`, [observer])
    for (const m of members) {
      await client.query(`INSERT INTO ${this.#table} (observer, node_id, region, url, incarnation) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (observer, node_id) DO UPDATE SET region = EXCLUDED.region, url = EXCLUDED.url, incarnation = EXCLUDED.incarnation`,
      [observer, m.nodeId, m.region, m.url, m.incarnation])
    }
  }

  async load(query: (text: string) => Promise<{ rows: unknown[] }>): Promise<StoredMeshMember[]> {
    const { rows } = await query(`SELECT node_id, region, url, incarnation FROM ${this.#table}`)
    return unionMeshMembers((rows as { node_id: string; region: string; url: string; incarnation: string }[])
      .map((r) => ({ nodeId: r.node_id, region: r.region, url: r.url, incarnation: Number(r.incarnation) })))
  }
}
