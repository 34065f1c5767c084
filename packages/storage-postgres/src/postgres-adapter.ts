import pg from 'pg'
import type { Pool, PoolClient, QueryConfig, QueryResultRow } from 'pg'
import { StorageError, assertBytes, assertCursorValues, assertDeletedAt, assertDocName, assertKey, assertLimit, assertListDocumentsOptions, assertMeshMembers, assertSeq, assertTtl, assertUpdateList, toStorageError, type StoredMeshMember } from '@meridian/storage'
import type { ChangeLogEntry, ChangesPage, DocTombstone, ListDocumentsOptions, StorageAdapter, StoredDocument, StoredDocumentInfo, StoredUpdate } from '@meridian/storage'
import { migrate } from './schema.js'
import { resolveOptions, type PostgresStorageOptions } from './postgres-options.js'
import { statements, type Statements } from './statements.js'
import { PgMeshMembers } from './mesh-members.js'
import { PgChangeFeed } from './change-feed.js'
import { PgDocIndex } from './doc-index.js'

/**
 * Storage on PostgreSQL, for several relays sharing one database (a region).
 * Every operation is one statement or one transaction, so it is atomic for
 * every other relay too:
 * - `append` claims the seq and inserts the update in one statement;
 * - `compact` locks the document row (`SELECT ... FOR UPDATE`), so concurrent
 *   compactions of the same document run one after the other, and the second
 *   one is a no-op unless it covers more (no lost update, no double snapshot);
 * - `load` is a single statement, hence a single snapshot.
 * Open with `openPostgresStorage`.
 */
export class PostgresStorageAdapter implements StorageAdapter {
  /** The schema this adapter's tables live in. */
  readonly schema: string
  readonly #pool: Pool
  readonly #meshMembers: PgMeshMembers
  readonly #docIndex: PgDocIndex
  readonly #sql: Statements
  readonly #feed: PgChangeFeed
  #closing: Promise<void> | null = null

  private constructor(pool: Pool, schema: string) {
    this.#pool = pool
    this.schema = schema
    this.#sql = statements(schema)
    this.#meshMembers = new PgMeshMembers(schema)
    this.#feed = new PgChangeFeed(schema)
    this.#docIndex = new PgDocIndex(schema)
  }

  /** Same as `openPostgresStorage`. */
  static async open(options: PostgresStorageOptions): Promise<PostgresStorageAdapter> {
    const resolved = resolveOptions(options)
    const pool = new pg.Pool({
      connectionString: resolved.connectionString,
      max: resolved.poolSize,
      connectionTimeoutMillis: resolved.connectTimeoutMs,
      idleTimeoutMillis: resolved.idleTimeoutMs,
      application_name: resolved.applicationName,
      ...(resolved.statementTimeoutMs > 0 ? { statement_timeout: resolved.statementTimeoutMs } : {})
    })
    pool.on('error', (err) => resolved.onError?.(err))
    try {
      const client = await pool.connect()
      try {
        await migrate(client, resolved.schema)
      } finally {
        client.release()
      }
      return new PostgresStorageAdapter(pool, resolved.schema)
    } catch (err) {
      await pool.end().catch(() => undefined)
      throw toStorageError(err)
    }
  }

  load(docName: string): Promise<StoredDocument | null> {
    return this.#run(async () => {
      assertDocName(docName)
      const { rows } = await this.#query<{ part: number; seq: string; data: Uint8Array | null }>({
        name: 'meridian-load',
        text: this.#sql.load,
        values: [docName]
      })
      const head = rows[0]
      if (head === undefined || head.part !== 0) return null
      const updates: StoredUpdate[] = []
      for (let i = 1; i < rows.length; i++) {
        const row = rows[i]
        if (row === undefined) continue
        updates.push({ seq: toSeq(row.seq), data: plainCopy(row.data ?? new Uint8Array(0)) })
      }
      return {
        snapshot: head.data === null ? null : plainCopy(head.data),
        snapshotSeq: toSeq(head.seq),
        updates
      }
    })
  }

  append(docName: string, update: Uint8Array): Promise<number> {
    return this.#run(async () => {
      assertDocName(docName)
      assertBytes(update, 'update')
      // Buffer.from copies: the caller may reuse its array as soon as we return.
      const { rows } = await this.#query<{ seq: string }>({
        name: 'meridian-append',
        text: this.#sql.append,
        values: [docName, Buffer.from(update)]
      })
      const seq = rows[0]?.seq
      if (seq === undefined) throw new Error('append returned no seq')
      return toSeq(seq)
    })
  }

  appendMany(docName: string, updates: readonly Uint8Array[]): Promise<number[]> {
    return this.#run(async () => {
      assertDocName(docName)
      assertUpdateList(updates)
      if (updates.length === 0) return []
      const { rows } = await this.#query<{ seq: string }>({
        name: 'meridian-append-many',
        text: this.#sql.appendMany,
        values: [docName, updates.map((u) => Buffer.from(u)), updates.length]
      })
      if (rows.length !== updates.length) throw new Error(`appendMany stored ${rows.length} of ${updates.length} updates`)
      return rows.map((r) => toSeq(r.seq)).sort((a, b) => a - b)
    })
  }

  compact(docName: string, snapshot: Uint8Array, throughSeq: number): Promise<void> {
    return this.#run(async () => {
      assertDocName(docName)
      assertBytes(snapshot, 'snapshot')
      assertSeq(throughSeq)
      const copy = Buffer.from(snapshot)
      await this.#transaction(async (client) => {
        // The row lock makes concurrent compactions (and appends) of this document
        // wait for us; the one that comes second re-reads the committed row.
        const { rows } = await client.query<{ snapshot_seq: string; next_seq: string }>({
          name: 'meridian-lock-document',
          text: this.#sql.lockDocument,
          values: [docName]
        })
        const row = rows[0]
        const snapshotSeq = row === undefined ? 0 : toSeq(row.snapshot_seq)
        const nextSeq = row === undefined ? 1 : toSeq(row.next_seq)
        // Stale, repeated or concurrent-and-older compaction: never move backwards.
        if (throughSeq <= snapshotSeq) return
        if (throughSeq >= nextSeq) {
          throw new StorageError(
            'ERR_STORAGE_INVALID_ARGUMENT',
            `throughSeq ${throughSeq} is beyond the last appended seq ${nextSeq - 1} of "${docName}"`
          )
        }
        await client.query({ name: 'meridian-set-snapshot', text: this.#sql.setSnapshot, values: [docName, copy, throughSeq] })
        await client.query({ name: 'meridian-delete-through', text: this.#sql.deleteUpdatesThrough, values: [docName, throughSeq] })
      })
    })
  }

  remove(docName: string): Promise<void> {
    return this.#run(async () => {
      assertDocName(docName)
      await this.#query({ name: 'meridian-remove', text: this.#sql.remove, values: [docName] })
    })
  }

  list(): Promise<string[]> {
    return this.#run(async () => {
      const { rows } = await this.#query<{ name: string }>({ name: 'meridian-list', text: this.#sql.list })
      return rows.map((r) => r.name)
    })
  }

  listDocuments(options: ListDocumentsOptions): Promise<StoredDocumentInfo[]> {
    return this.#run(async () => {
      assertListDocumentsOptions(options)
      await this.#docIndex.ensure(this.#plainQuery)
      return this.#docIndex.list(this.#plainQuery, options)
    })
  }

  tombstone(docName: string, deletedAtMs: number): Promise<void> {
    return this.#run(async () => {
      assertDocName(docName)
      assertDeletedAt(deletedAtMs)
      await this.#docIndex.ensure(this.#plainQuery)
      await this.#transaction((client) => this.#docIndex.tombstone(client, docName, deletedAtMs))
    })
  }

  loadTombstone(docName: string): Promise<DocTombstone | null> {
    return this.#run(async () => {
      assertDocName(docName)
      await this.#docIndex.ensure(this.#plainQuery)
      return this.#docIndex.load(this.#plainQuery, docName)
    })
  }

  listTombstones(): Promise<DocTombstone[]> {
    return this.#run(async () => {
      await this.#docIndex.ensure(this.#plainQuery)
      return this.#docIndex.all(this.#plainQuery)
    })
  }

  readonly #plainQuery = (text: string, values?: unknown[]): Promise<{ rows: unknown[] }> => this.#query({ text, ...(values !== undefined ? { values } : {}) })

  saveMeshMembers(observerNodeId: string, members: readonly StoredMeshMember[]): Promise<void> {
    return this.#run(async () => {
      assertMeshMembers(observerNodeId, members)
      await this.#meshMembers.ensure((text) => this.#query({ text }))
      await this.#transaction((client) => this.#meshMembers.save(client, observerNodeId, members))
    })
  }

  loadMeshMembers(): Promise<StoredMeshMember[]> {
    return this.#run(async () => {
      await this.#meshMembers.ensure((text) => this.#query({ text }))
      return this.#meshMembers.load((text) => this.#query({ text }))
    })
  }

  readChanges(docName: string, afterSeq: number, limit: number): Promise<ChangesPage | null> {
    return this.#run(async () => {
      assertDocName(docName)
      assertSeq(afterSeq, 'afterSeq')
      assertLimit(limit)
      return this.#feed.readChanges(this.#pool, docName, afterSeq, limit)
    })
  }

  readChangeLog(after: string | null, limit: number): Promise<ChangeLogEntry[]> {
    return this.#run(async () => {
      assertLimit(limit)
      await this.#ensureFeed()
      return this.#feed.readLog(this.#pool, after, limit)
    })
  }

  loadCursors(consumer: string): Promise<Record<string, string>> {
    return this.#run(async () => {
      assertKey(consumer, 'consumer')
      await this.#ensureFeed()
      return this.#feed.loadCursors(this.#pool, consumer)
    })
  }

  saveCursors(consumer: string, values: Readonly<Record<string, string | null>>): Promise<void> {
    return this.#run(async () => {
      assertKey(consumer, 'consumer')
      assertCursorValues(values)
      await this.#ensureFeed()
      await this.#transaction((client) => this.#feed.saveCursors(client, consumer, values))
    })
  }

  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.#run(async () => {
      assertKey(name, 'lease name')
      assertKey(holder, 'holder')
      assertTtl(ttlMs)
      await this.#ensureFeed()
      return this.#feed.acquireLease(this.#pool, name, holder, ttlMs)
    })
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.#run(async () => {
      assertKey(name, 'lease name')
      assertKey(holder, 'holder')
      await this.#ensureFeed()
      await this.#feed.releaseLease(this.#pool, name, holder)
    })
  }

  #ensureFeed(): Promise<void> {
    return this.#feed.ensure(this.#pool, (fn) => this.#transaction(fn))
  }

  /** Waits for queries in flight, then closes every connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#pool.end().catch((err: unknown) => {
      throw toStorageError(err)
    })
    return this.#closing
  }

  get #closed(): boolean {
    return this.#closing !== null
  }

  #query<R extends QueryResultRow>(config: QueryConfig): Promise<pg.QueryResult<R>> {
    return this.#pool.query<R>(config)
  }

  /** BEGIN ... COMMIT on one pooled connection; ROLLBACK (and a discarded connection) on any failure. */
  async #transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await fn(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      try {
        await client.query('ROLLBACK')
      } catch (rollbackError) {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
      }
      throw err
    } finally {
      client.release(broken)
    }
  }

  /** Always settles a promise: argument errors and engine errors alike arrive as StorageErrors. */
  #run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StorageError('ERR_STORAGE_CLOSED', 'storage adapter is closed'))
    try {
      return fn().catch((err: unknown) => {
        throw toStorageError(err)
      })
    } catch (err) {
      return Promise.reject(toStorageError(err))
    }
  }
}

/**
 * Opens a pool, creates or migrates the schema (safe when several relays start
 * at once) and resolves with the adapter. Rejects with a StorageError
 * (ERR_STORAGE_INVALID_ARGUMENT for bad options, ERR_STORAGE_IO when the
 * database cannot be reached or has a newer schema).
 */
export function openPostgresStorage(options: PostgresStorageOptions): Promise<PostgresStorageAdapter> {
  try {
    return PostgresStorageAdapter.open(options)
  } catch (err) {
    return Promise.reject(toStorageError(err))
  }
}

/** bigint columns arrive as strings; seqs stay far below 2^53. */
function toSeq(value: string | number): number {
  const seq = Number(value)
  if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`invalid seq ${String(value)}`)
  return seq
}

/** pg hands out Buffers (often views of a larger pooled buffer); callers get plain Uint8Arrays they own. */
function plainCopy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}
