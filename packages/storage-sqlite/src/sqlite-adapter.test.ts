import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { isStorageError } from '@meridian/storage'
import { runStorageConformance } from '@meridian/storage/conformance'
import { DEFAULT_SQLITE_OPTIONS, SCHEMA_VERSION, SqliteStorageAdapter, openSqliteStorage } from './index.js'

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'meridian-sqlite-'))
}

runStorageConformance('SqliteStorageAdapter (file)', async () => {
  const dataDir = tempDir()
  return {
    adapter: openSqliteStorage({ dataDir }),
    reopen: async () => openSqliteStorage({ dataDir }),
    cleanup: async () => rmSync(dataDir, { recursive: true, force: true })
  }
})

runStorageConformance('SqliteStorageAdapter (:memory:)', async () => ({
  adapter: openSqliteStorage({ filename: ':memory:' })
}))

describe('SqliteStorageAdapter specifics', () => {
  const dirs: string[] = []
  const adapters: SqliteStorageAdapter[] = []
  const open = (options: Parameters<typeof openSqliteStorage>[0]) => {
    const adapter = openSqliteStorage(options)
    adapters.push(adapter)
    return adapter
  }
  const dir = () => {
    const created = tempDir()
    dirs.push(created)
    return created
  }
  const raw = (file: string) => new Database(file)

  afterEach(async () => {
    for (const adapter of adapters.splice(0)) await adapter.close()
    for (const created of dirs.splice(0)) rmSync(created, { recursive: true, force: true })
  })

  it('defaults: meridian.sqlite3 in dataDir, WAL, synchronous FULL, schema version 2', async () => {
    expect(DEFAULT_SQLITE_OPTIONS).toEqual({ dataDir: '.', filename: 'meridian.sqlite3', synchronous: 'full', busyTimeoutMs: 5000 })
    const dataDir = dir()
    const adapter = open({ dataDir })
    expect(adapter.filename).toBe(join(dataDir, 'meridian.sqlite3'))
    await adapter.append('doc', new Uint8Array([1]))
    const db = raw(adapter.filename)
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
      expect(SCHEMA_VERSION).toBe(2)
    } finally {
      db.close()
    }
  })

  it("creates a missing data directory recursively and honours 'normal' synchronous", async () => {
    const dataDir = join(dir(), 'a', 'b', 'c')
    const adapter = open({ dataDir, filename: 'custom.db', synchronous: 'normal' })
    await adapter.append('doc', new Uint8Array([1]))
    expect(existsSync(join(dataDir, 'custom.db'))).toBe(true)
  })

  it("'full': writes wait for the WAL sync, share it, and those committed right before close still resolve", async () => {
    const dataDir = dir()
    const adapter = openSqliteStorage({ dataDir })
    const writes = Promise.all([
      adapter.append('doc', new Uint8Array([1])),
      adapter.appendMany('doc', [new Uint8Array([2]), new Uint8Array([3])]),
      adapter.append('other', new Uint8Array([4]))
    ])
    // Committed already (a reader sees them), durable once the writes resolve.
    expect((await adapter.load('doc'))?.updates).toHaveLength(3)
    const last = adapter.append('doc', new Uint8Array([5]))
    await adapter.close()
    const [first, many, other] = await writes
    expect(await last).toBeGreaterThan(many[1] ?? Infinity)
    const reopened = open({ dataDir })
    expect((await reopened.load('doc'))?.updates.map((u) => u.seq)).toEqual([first, ...many, await last])
    expect((await reopened.load('other'))?.updates[0]?.seq).toBe(other)
  })

  it('two adapters on the same file see each other’s committed data', async () => {
    const dataDir = dir()
    const first = open({ dataDir })
    const second = open({ dataDir })
    const a = await first.append('doc', new Uint8Array([1]))
    const b = await second.append('doc', new Uint8Array([2]))
    expect(b).toBeGreaterThan(a) // one shared per-document counter, not one per connection
    await second.compact('doc', new Uint8Array([9]), a)
    expect(await first.load('doc')).toEqual({ snapshot: new Uint8Array([9]), snapshotSeq: a, updates: [{ seq: b, data: new Uint8Array([2]) }] })
    await first.remove('doc')
    expect(await second.list()).toEqual([])
  })

  it('data committed by an adapter that was never closed is visible after "restart"', async () => {
    const dataDir = dir()
    const crashed = openSqliteStorage({ dataDir }) // deliberately never closed during the check
    const seq = await crashed.append('doc', new Uint8Array([7, 7]))
    const restarted = open({ dataDir })
    expect(await restarted.load('doc')).toEqual({ snapshot: null, snapshotSeq: 0, updates: [{ seq, data: new Uint8Array([7, 7]) }] })
    await crashed.close()
  })

  it('close checkpoints the WAL and truncates it to zero bytes', async () => {
    const adapter = openSqliteStorage({ dataDir: dir() })
    await adapter.append('doc', new Uint8Array(4096))
    const wal = `${adapter.filename}-wal`
    expect(statSync(wal).size).toBeGreaterThan(0)
    await adapter.close()
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0)
  })

  it('rejects invalid options synchronously with ERR_STORAGE_INVALID_ARGUMENT', () => {
    const bad = [
      { filename: '' },
      { dataDir: '' },
      { synchronous: 'off' as 'full' },
      { busyTimeoutMs: -1 },
      { busyTimeoutMs: 1.5 },
      { busyTimeoutMs: 2 ** 31 }
    ]
    for (const options of bad) {
      let error: unknown
      try {
        openSqliteStorage(options)
      } catch (err) {
        error = err
      }
      expect(isStorageError(error, 'ERR_STORAGE_INVALID_ARGUMENT'), JSON.stringify(options)).toBe(true)
    }
  })

  it('refuses to open a database with a newer schema version (ERR_STORAGE_IO)', () => {
    const dataDir = dir()
    const db = raw(join(dataDir, 'meridian.sqlite3'))
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
    db.close()
    expect(() => openSqliteStorage({ dataDir })).toThrow(expect.objectContaining({ code: 'ERR_STORAGE_IO' }))
  })

  it('migrates a version-1 file: its documents keep their content and list with lastChangeAtMs null until the next append', async () => {
    const dataDir = dir()
    const db = raw(join(dataDir, 'meridian.sqlite3'))
    // The version-1 schema as it shipped, with one document in it.
    db.exec(`CREATE TABLE documents (name TEXT NOT NULL PRIMARY KEY, snapshot BLOB,
               snapshot_seq INTEGER NOT NULL DEFAULT 0 CHECK (snapshot_seq >= 0),
               next_seq INTEGER NOT NULL DEFAULT 1 CHECK (next_seq > snapshot_seq)) STRICT;
             CREATE TABLE updates (doc TEXT NOT NULL, seq INTEGER NOT NULL CHECK (seq > 0), data BLOB NOT NULL,
               PRIMARY KEY (doc, seq)) STRICT, WITHOUT ROWID;
             INSERT INTO documents (name, next_seq) VALUES ('old', 2);
             INSERT INTO updates (doc, seq, data) VALUES ('old', 1, x'0102');`)
    db.pragma('user_version = 1')
    db.close()
    const adapter = open({ dataDir })
    expect(await adapter.listDocuments({ limit: 10 })).toEqual([{ docName: 'old', bytes: 2, lastSeq: 1, lastChangeAtMs: null }])
    expect(await adapter.append('old', new Uint8Array([3]))).toBe(2)
    const [entry] = await adapter.listDocuments({ limit: 10 })
    expect(entry?.lastChangeAtMs).toBeTypeOf('number')
  })

  it('wraps a file that is not a database as ERR_STORAGE_IO with the engine error as cause', () => {
    const dataDir = dir()
    writeFileSync(join(dataDir, 'meridian.sqlite3'), 'definitely not a sqlite database, just some text '.repeat(100))
    let error: unknown
    try {
      openSqliteStorage({ dataDir })
    } catch (err) {
      error = err
    }
    expect(isStorageError(error, 'ERR_STORAGE_IO')).toBe(true)
    expect((error as Error).cause).toBeInstanceOf(Error)
  })

  it('wraps engine failures during operations as rejected ERR_STORAGE_IO', async () => {
    const adapter = open({ dataDir: dir() })
    await adapter.append('doc', new Uint8Array([1]))
    const db = raw(adapter.filename)
    db.exec('DROP TABLE updates')
    db.close()
    const outcome = await adapter.append('doc', new Uint8Array([2])).then(
      () => undefined,
      (err: unknown) => err
    )
    expect(isStorageError(outcome, 'ERR_STORAGE_IO')).toBe(true)
    expect((outcome as Error).cause).toBeInstanceOf(Error)
  })
})
