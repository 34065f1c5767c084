import { closeSync, fdatasync, mkdirSync, openSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Database from 'better-sqlite3'
import type { Database as SqliteDatabase } from 'better-sqlite3'
import { loadSqliteMeshMembers, saveSqliteMeshMembers } from './mesh-members.js'
import { listSqliteDocuments, listSqliteTombstones, loadSqliteTombstone, tombstoneSqlite } from './doc-index.js'
import { StorageError, assertBytes, assertCursorValues, assertDeletedAt, assertDocName, assertKey, assertLimit, assertListDocumentsOptions, assertMeshMembers, assertSeq, assertTtl, assertUpdateList, toStorageError, type StoredMeshMember } from '@meridian/storage'
import type { ChangeLogEntry, ChangesPage, DocTombstone, ListDocumentsOptions, StorageAdapter, StoredDocument, StoredDocumentInfo } from '@meridian/storage'
import { migrate } from './schema.js'
import { createTransactions, prepareStatements, type Transactions } from './document-statements.js'
import { SqliteChangeFeed, ensureChangeFeed } from './change-feed.js'

export interface SqliteStorageOptions {
  /** Directory holding the database; created (recursively) if missing. Default: the working directory. */
  dataDir?: string
  /** File name inside `dataDir` (an absolute path ignores `dataDir`), or ':memory:'. Default 'meridian.sqlite3'. */
  filename?: string
  /**
   * 'full' (default): a write resolves only once the WAL holding it is on disk,
   * so an acknowledged append survives power loss. The sync is not done inside
   * the commit (which would block the event loop for the disk's latency) but
   * right after it, as an fdatasync of the WAL on libuv's thread pool, shared by
   * every write committed meanwhile (group commit); checkpoints stay synced by
   * SQLite itself. 'normal' only risks the last commits on power loss (never
   * corruption) and does not wait for the disk at all.
   */
  synchronous?: 'full' | 'normal'
  /** How long a write waits for another connection's lock before failing with ERR_STORAGE_IO. Default 5000. */
  busyTimeoutMs?: number
}

export const DEFAULT_SQLITE_OPTIONS: Readonly<Required<SqliteStorageOptions>> = Object.freeze({
  dataDir: '.',
  filename: 'meridian.sqlite3',
  synchronous: 'full',
  busyTimeoutMs: 5000
})

/**
 * Durable adapter on SQLite (better-sqlite3, WAL). better-sqlite3 is
 * synchronous, so each method does its work inline and returns a settled
 * promise; every multi-statement operation is a single transaction, so a crash
 * or a concurrent reader never observes half of it. Open with `openSqliteStorage`.
 */
export class SqliteStorageAdapter implements StorageAdapter {
  /** Absolute path of the database file, or ':memory:'. */
  readonly filename: string
  readonly #db: SqliteDatabase
  readonly #tx: Transactions
  readonly #feed: SqliteChangeFeed
  #closed = false
  /** Writes wait for an fdatasync of the WAL ('full' on a file). */
  readonly #syncWal: boolean
  #walFd: number | null = null
  /** The WAL sync in flight, and the next one (for commits made after the one in flight started). */
  #syncing: Promise<void> | null = null
  #nextSync: Promise<void> | null = null
  /** Set once closed: whether the closing checkpoint made everything committed durable. */
  #closedDurably: boolean | null = null

  private constructor(db: SqliteDatabase, filename: string, syncWal: boolean) {
    this.#db = db
    this.filename = filename
    this.#syncWal = syncWal
    this.#tx = createTransactions(db, prepareStatements(db))
    this.#feed = new SqliteChangeFeed(db)
  }

  /** Same as `openSqliteStorage`. Throws a StorageError synchronously if the database cannot be opened. */
  static open(options: SqliteStorageOptions = {}): SqliteStorageAdapter {
    const { filename, synchronous, busyTimeoutMs } = resolveOptions(options)
    let db: SqliteDatabase | undefined
    try {
      if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true })
      db = new Database(filename, { timeout: busyTimeoutMs })
      // WAL: readers never block the writer, and a commit is one sequential WAL write.
      db.pragma('journal_mode = WAL')
      // 'full' on a file: commits do not sync, the adapter syncs the WAL after them (see #durable).
      // NORMAL still syncs the WAL before each checkpoint and the database after it.
      const syncWal = synchronous === 'full' && filename !== ':memory:'
      db.pragma(`synchronous = ${synchronous === 'full' && !syncWal ? 'FULL' : 'NORMAL'}`)
      migrate(db)
      ensureChangeFeed(db)
      return new SqliteStorageAdapter(db, filename, syncWal)
    } catch (err) {
      db?.close()
      throw toStorageError(err)
    }
  }

  load(docName: string): Promise<StoredDocument | null> {
    return this.#run(() => {
      assertDocName(docName)
      // One read transaction: another connection's compaction is seen entirely or not at all.
      return this.#tx.load.deferred(docName)
    })
  }

  append(docName: string, update: Uint8Array): Promise<number> {
    return this.#write(() => {
      assertDocName(docName)
      assertBytes(update, 'update')
      // IMMEDIATE: take the write lock up front instead of failing a read->write upgrade under contention.
      return this.#tx.append.immediate(docName, update)
    })
  }

  /** One transaction, hence one commit (one fsync with synchronous=FULL) for the whole list. */
  appendMany(docName: string, updates: readonly Uint8Array[]): Promise<number[]> {
    return this.#write(() => {
      assertDocName(docName)
      assertUpdateList(updates)
      if (updates.length === 0) return []
      return this.#tx.appendMany.immediate(docName, updates)
    })
  }

  compact(docName: string, snapshot: Uint8Array, throughSeq: number): Promise<void> {
    return this.#write(() => {
      assertDocName(docName)
      assertBytes(snapshot, 'snapshot')
      assertSeq(throughSeq)
      this.#tx.compact.immediate(docName, snapshot, throughSeq)
    })
  }

  remove(docName: string): Promise<void> {
    return this.#write(() => {
      assertDocName(docName)
      this.#tx.remove.immediate(docName)
    })
  }

  list(): Promise<string[]> {
    return this.#run(() => this.#tx.list())
  }

  listDocuments(options: ListDocumentsOptions): Promise<StoredDocumentInfo[]> {
    return this.#run(() => {
      assertListDocumentsOptions(options)
      return listSqliteDocuments(this.#db, options)
    })
  }

  tombstone(docName: string, deletedAtMs: number): Promise<void> {
    return this.#write(() => {
      assertDocName(docName)
      assertDeletedAt(deletedAtMs)
      tombstoneSqlite(this.#db, docName, deletedAtMs)
    })
  }

  loadTombstone(docName: string): Promise<DocTombstone | null> {
    return this.#run(() => {
      assertDocName(docName)
      return loadSqliteTombstone(this.#db, docName)
    })
  }

  listTombstones(): Promise<DocTombstone[]> {
    return this.#run(() => listSqliteTombstones(this.#db))
  }

  saveMeshMembers(observerNodeId: string, members: readonly StoredMeshMember[]): Promise<void> {
    return this.#write(() => {
      assertMeshMembers(observerNodeId, members)
      saveSqliteMeshMembers(this.#db, observerNodeId, members)
    })
  }

  loadMeshMembers(): Promise<StoredMeshMember[]> {
    return this.#run(() => loadSqliteMeshMembers(this.#db))
  }

  readChanges(docName: string, afterSeq: number, limit: number): Promise<ChangesPage | null> {
    return this.#run(() => {
      assertDocName(docName)
      assertSeq(afterSeq, 'afterSeq')
      assertLimit(limit)
      return this.#feed.readChanges(docName, afterSeq, limit)
    })
  }

  readChangeLog(after: string | null, limit: number): Promise<ChangeLogEntry[]> {
    return this.#run(() => {
      assertLimit(limit)
      return this.#feed.readLog(after, limit)
    })
  }

  loadCursors(consumer: string): Promise<Record<string, string>> {
    return this.#run(() => {
      assertKey(consumer, 'consumer')
      return this.#feed.loadCursors(consumer)
    })
  }

  saveCursors(consumer: string, values: Readonly<Record<string, string | null>>): Promise<void> {
    return this.#write(() => {
      assertKey(consumer, 'consumer')
      assertCursorValues(values)
      this.#feed.saveCursors(consumer, values)
    })
  }

  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.#run(() => {
      assertKey(name, 'lease name')
      assertKey(holder, 'holder')
      assertTtl(ttlMs)
      return this.#feed.acquireLease(name, holder, ttlMs)
    })
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.#run(() => {
      assertKey(name, 'lease name')
      assertKey(holder, 'holder')
      this.#feed.releaseLease(name, holder)
    })
  }

  /** Waits for writes still syncing, checkpoints the WAL into the main file (leaving a zero-length WAL), then closes. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // Writes already committed resolve (or fail) with their sync; nothing new can start.
    await this.#nextSync?.catch(() => undefined)
    await this.#syncing?.catch(() => undefined)
    let failure: unknown
    try {
      if (!this.#db.memory) {
        // With synchronous=NORMAL a checkpoint syncs the WAL before and the database after.
        const [result] = this.#db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[]
        this.#closedDurably = result?.busy === 0
      }
    } catch (err) {
      failure = err // committed data is safe in the WAL; still close and report.
    }
    this.#closedDurably ??= false
    try {
      this.#db.close()
    } catch (err) {
      failure ??= err
    }
    if (this.#walFd !== null) {
      try {
        closeSync(this.#walFd)
      } catch {
        // Nothing left to sync through it.
      }
      this.#walFd = null
    }
    if (failure !== undefined) throw toStorageError(failure)
  }

  /** A write: committed synchronously, resolved once durable ('full': after a WAL sync). */
  #write<T>(fn: () => T): Promise<T> {
    const committed = this.#run(fn)
    if (!this.#syncWal) return committed
    return committed.then((result) => this.#durable().then(() => result))
  }

  /**
   * Resolves once everything committed so far is on disk. One fdatasync at a
   * time; commits made while it runs share the next one.
   */
  #durable(): Promise<void> {
    // Committed just before close(), synced by its checkpoint (or not: then it cannot be promised).
    if (this.#closedDurably !== null) {
      return this.#closedDurably ? Promise.resolve() : Promise.reject(new StorageError('ERR_STORAGE_IO', 'closed before the write was synced'))
    }
    if (this.#syncing === null) {
      this.#syncing = this.#syncWalFile().finally(() => {
        this.#syncing = null
      })
      return this.#syncing
    }
    // The sync in flight may have started before this commit: wait for the following one.
    this.#nextSync ??= this.#syncing
      .catch(() => undefined)
      .then(() => {
        this.#nextSync = null
        return this.#durable()
      })
    return this.#nextSync
  }

  #syncWalFile(): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        // Opened once, after the first commit (the WAL exists by then); SQLite keeps the
        // file while this connection is open, so the descriptor stays valid.
        this.#walFd ??= openSync(`${this.filename}-wal`, 'r')
      } catch (err) {
        reject(toStorageError(err))
        return
      }
      fdatasync(this.#walFd, (err) => (err === null ? resolve() : reject(toStorageError(err))))
    })
  }

  /** Runs synchronously but always settles a promise: callers never see a synchronous throw. */
  #run<T>(fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new StorageError('ERR_STORAGE_CLOSED', 'storage adapter is closed'))
    try {
      return Promise.resolve(fn())
    } catch (err) {
      return Promise.reject(toStorageError(err))
    }
  }
}

/** Opens (creating and migrating if needed) a SQLite-backed adapter. Throws a StorageError if it cannot. */
export function openSqliteStorage(options: SqliteStorageOptions): SqliteStorageAdapter {
  return SqliteStorageAdapter.open(options)
}

function resolveOptions(options: SqliteStorageOptions): Required<SqliteStorageOptions> {
  const invalid = (message: string) => new StorageError('ERR_STORAGE_INVALID_ARGUMENT', message)
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object')
  const merged = { ...DEFAULT_SQLITE_OPTIONS, ...stripUndefined(options) }
  if (typeof merged.dataDir !== 'string' || merged.dataDir === '') throw invalid('dataDir must be a non-empty string')
  if (typeof merged.filename !== 'string' || merged.filename === '') throw invalid('filename must be a non-empty string')
  if (merged.synchronous !== 'full' && merged.synchronous !== 'normal') throw invalid("synchronous must be 'full' or 'normal'")
  const timeout = merged.busyTimeoutMs
  if (!Number.isSafeInteger(timeout) || timeout < 0 || timeout > 0x7fffffff) {
    throw invalid('busyTimeoutMs must be an integer between 0 and 2147483647')
  }
  const filename = merged.filename === ':memory:' ? ':memory:' : resolve(merged.dataDir, merged.filename)
  return { ...merged, filename }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
