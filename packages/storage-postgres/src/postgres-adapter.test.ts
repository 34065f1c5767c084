import pg from 'pg'
import * as Y from 'yjs'
import { afterEach, describe, expect, it } from 'vitest'
import { isStorageError } from '@meridian/storage'
import type { StorageAdapter, StoredDocument } from '@meridian/storage'
import { runStorageConformance } from '@meridian/storage/conformance'
import { DEFAULT_POSTGRES_OPTIONS, SCHEMA_VERSION, openPostgresStorage, redactConnectionString, splitSchemaParam } from './index.js'
import type { PostgresStorageAdapter } from './index.js'
import { checkPostgres, dropSchema, freshSchemaName, requireServices, withSchema } from '../../../test/helpers/services.js'
import { createPrng, parseSeed, startTcpProxy } from '@meridian/testing'

const services = await requireServices('@meridian/storage-postgres', { postgres: checkPostgres() })
const url = services?.postgres

if (url === undefined) {
  describe('PostgresStorageAdapter', () => {
    it.skip('needs PostgreSQL at 127.0.0.1:5432 (reason printed above)', () => undefined)
  })
} else {
  runStorageConformance('PostgresStorageAdapter', async () => {
    const schema = freshSchemaName()
    return {
      adapter: await openPostgresStorage({ connectionString: url, schema, poolSize: 4 }),
      reopen: () => openPostgresStorage({ connectionString: url, schema, poolSize: 4 }),
      cleanup: () => dropSchema(url, schema)
    }
  })

  describe('PostgresStorageAdapter specifics', () => {
    const schemas: string[] = []
    const adapters: StorageAdapter[] = []
    const schema = (): string => {
      const name = freshSchemaName()
      schemas.push(name)
      return name
    }
    const open = async (options: Partial<Parameters<typeof openPostgresStorage>[0]> = {}): Promise<PostgresStorageAdapter> => {
      const adapter = await openPostgresStorage({ connectionString: url, poolSize: 4, ...options })
      adapters.push(adapter)
      return adapter
    }
    const sql = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        return (await client.query<R>(text, values)).rows
      } finally {
        await client.end()
      }
    }

    afterEach(async () => {
      for (const adapter of adapters.splice(0)) await adapter.close()
      for (const name of schemas.splice(0)) await dropSchema(url, name)
    })

    it('defaults, and a schema created at version 2 with a version table', async () => {
      expect(DEFAULT_POSTGRES_OPTIONS).toEqual({
        schema: 'meridian',
        poolSize: 10,
        connectTimeoutMs: 10_000,
        idleTimeoutMs: 30_000,
        statementTimeoutMs: 30_000,
        applicationName: 'meridian-relay'
      })
      const name = schema()
      const adapter = await open({ schema: name })
      expect(adapter.schema).toBe(name)
      expect(SCHEMA_VERSION).toBe(2)
      const versions = await sql<{ version: number }>(`SELECT version FROM "${name}".meridian_schema_version`)
      expect(versions.map((v) => v.version)).toEqual([1, 2])
      const tables = await sql<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [name]
      )
      expect(tables.map((t) => t.table_name)).toEqual(['documents', 'meridian_schema_version', 'updates'])
    })

    it('takes the schema from ?schema= in the connection string and passes other parameters on', async () => {
      const name = schema()
      const adapter = await open({ connectionString: withSchema(url, name) })
      expect(adapter.schema).toBe(name)
      expect(splitSchemaParam('postgres://u@h/db?sslmode=disable&schema=abc')).toEqual({
        connectionString: 'postgres://u@h/db?sslmode=disable',
        schema: 'abc'
      })
      expect(splitSchemaParam('not a url')).toEqual({ connectionString: 'not a url', schema: undefined })
      expect(redactConnectionString('postgres://u:secret@h:5432/db')).toBe('postgres://u:***@h:5432/db')
    })

    it('several relays opening a fresh schema at once migrate it exactly once', async () => {
      const name = schema()
      const opened = await Promise.all(Array.from({ length: 6 }, () => open({ schema: name, poolSize: 1 })))
      expect(opened.length).toBe(6)
      const versions = await sql<{ version: number }>(`SELECT version FROM "${name}".meridian_schema_version`)
      expect(versions.map((v) => v.version)).toEqual([1, 2])
    })

    it('refuses a schema with a newer version (ERR_STORAGE_IO)', async () => {
      const name = schema()
      await (await openPostgresStorage({ connectionString: url, schema: name })).close()
      await sql(`INSERT INTO "${name}".meridian_schema_version (version) VALUES ($1)`, [SCHEMA_VERSION + 1])
      const outcome = await openPostgresStorage({ connectionString: url, schema: name }).then(
        (a) => a.close().then(() => 'opened'),
        (err: unknown) => err
      )
      expect(isStorageError(outcome, 'ERR_STORAGE_IO')).toBe(true)
      expect((outcome as Error).message).toMatch(/newer/)
    })

    it('rejects bad options with ERR_STORAGE_INVALID_ARGUMENT, and an unreachable server with ERR_STORAGE_IO', async () => {
      const bad: unknown[] = [
        null,
        {},
        { connectionString: '' },
        { connectionString: url, schema: 'Upper' },
        { connectionString: url, schema: 'semi;colon' },
        { connectionString: url, schema: '1starts_with_digit' },
        { connectionString: url, poolSize: 0 },
        { connectionString: url, statementTimeoutMs: -1 },
        { connectionString: url, connectTimeoutMs: 1.5 }
      ]
      for (const options of bad) {
        const outcome = await openPostgresStorage(options as Parameters<typeof openPostgresStorage>[0]).then(
          () => 'opened',
          (err: unknown) => err
        )
        expect(isStorageError(outcome, 'ERR_STORAGE_INVALID_ARGUMENT'), JSON.stringify(options)).toBe(true)
      }
      const unreachable = await openPostgresStorage({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectTimeoutMs: 1000 }).then(
        () => 'opened',
        (err: unknown) => err
      )
      expect(isStorageError(unreachable, 'ERR_STORAGE_IO')).toBe(true)
      expect((unreachable as Error).cause).toBeInstanceOf(Error)
    })

    it('two relays (two pools) share one gapless per-document sequence under concurrent appends', async () => {
      const name = schema()
      const a = await open({ schema: name })
      const b = await open({ schema: name })
      const seqs = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).append('doc', Uint8Array.of(i))))
      expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
      const loaded = await b.load('doc')
      expect(loaded?.updates.map((u) => u.data[0])).toEqual(
        seqs.map((seq, i) => ({ seq, i })).sort((x, y) => x.seq - y.seq).map((x) => x.i)
      )
    })

    it('wraps engine failures during operations as rejected ERR_STORAGE_IO with the cause', async () => {
      const name = schema()
      const adapter = await open({ schema: name })
      await adapter.append('doc', Uint8Array.of(1))
      await sql(`DROP TABLE "${name}".updates`)
      const outcome = await adapter.append('doc', Uint8Array.of(2)).then(
        () => undefined,
        (err: unknown) => err
      )
      expect(isStorageError(outcome, 'ERR_STORAGE_IO')).toBe(true)
      expect((outcome as Error).cause).toBeInstanceOf(Error)
      // The adapter (and its pool) stays usable for what still works.
      expect(await adapter.list()).toEqual(['doc'])
    })

    it('rides out a dropped database connection: calls in the outage reject with ERR_STORAGE_IO, then it works again', async () => {
      const target = new URL(url)
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
      const viaProxy = new URL(url)
      viaProxy.hostname = '127.0.0.1'
      viaProxy.port = String(proxy.port)
      const errors: Error[] = []
      try {
        const adapter = await open({ connectionString: viaProxy.toString(), schema: schema(), connectTimeoutMs: 1_000, onError: (e) => errors.push(e) })
        const first = await adapter.append('doc', Uint8Array.of(1))
        proxy.setOnline(false)
        const during = await adapter.append('doc', Uint8Array.of(2)).then(() => 'stored', (err: unknown) => err)
        expect(isStorageError(during, 'ERR_STORAGE_IO')).toBe(true)
        proxy.setOnline(true)
        const after = await adapter.append('doc', Uint8Array.of(3))
        expect(after).toBeGreaterThan(first)
        expect((await adapter.load('doc'))?.updates.map((u) => [...u.data])).toEqual([[1], [3]])
      } finally {
        await proxy.close()
      }
    })

    it('two relays compacting the same document while clients write lose nothing, and loads never see half a compaction', async () => {
      const seed = parseSeed(process.env.MERIDIAN_SEED)
      const rand = createPrng(seed)
      const name = schema()
      const relays = [await open({ schema: name }), await open({ schema: name })] as const
      const docName = 'contended'

      // Acknowledged = append resolved. Every acknowledged update must end up in storage.
      const acked: { key: string; update: Uint8Array }[] = []
      const writers = 4
      const editsPerWriter = 60
      let writing = true
      const write = async (w: number): Promise<void> => {
        const doc = new Y.Doc()
        let pending: Uint8Array[] = []
        doc.on('update', (u: Uint8Array) => pending.push(u))
        for (let n = 0; n < editsPerWriter; n++) {
          const key = `w${w}-${n}`
          doc.transact(() => {
            doc.getMap('m').set(key, n)
            const text = doc.getText('t')
            text.insert(Math.floor(rand() * (text.length + 1)), `${w}`)
          })
          const [update] = pending
          pending = []
          if (update === undefined) throw new Error('edit produced no update')
          await relays[(w + n) % 2]!.append(docName, update)
          acked.push({ key, update })
          if (rand() < 0.2) await new Promise((r) => setTimeout(r, 1))
        }
      }

      const materialize = (stored: StoredDocument): Y.Doc => {
        const doc = new Y.Doc()
        if (stored.snapshot !== null) Y.applyUpdate(doc, stored.snapshot)
        for (const u of stored.updates) Y.applyUpdate(doc, u.data)
        return doc
      }

      let compactions = 0
      const compactor = async (relay: StorageAdapter): Promise<void> => {
        while (writing) {
          const stored = await relay.load(docName)
          const last = stored?.updates.at(-1)
          if (stored !== null && last !== undefined) {
            const doc = materialize(stored)
            // Deliberately compact from what this relay loaded, however stale by now.
            if (rand() < 0.5) await new Promise((r) => setTimeout(r, Math.floor(rand() * 3)))
            await relay.compact(docName, Y.encodeStateAsUpdate(doc), last.seq)
            compactions++
            doc.destroy()
          }
          await new Promise((r) => setTimeout(r, Math.floor(rand() * 4)))
        }
      }

      const readerProblems: string[] = []
      let loads = 0
      const reader = async (relay: StorageAdapter): Promise<void> => {
        let lastSnapshotSeq = 0
        while (writing) {
          const mustSee = acked.slice() // acknowledged before this load started
          const stored = await relay.load(docName)
          loads++
          if (stored !== null) {
            if (stored.snapshotSeq < lastSnapshotSeq) readerProblems.push(`snapshotSeq went back ${lastSnapshotSeq} -> ${stored.snapshotSeq}`)
            lastSnapshotSeq = stored.snapshotSeq
            const seqs = stored.updates.map((u) => u.seq)
            if (seqs.some((s, i) => s <= stored.snapshotSeq || (i > 0 && s <= (seqs[i - 1] ?? 0)))) readerProblems.push(`bad seqs ${seqs.join(',')}`)
            const doc = materialize(stored)
            const map = doc.getMap('m')
            const missing = mustSee.filter((a) => !map.has(a.key)).map((a) => a.key)
            if (missing.length > 0) readerProblems.push(`load missed acknowledged ${missing.join(',')}`)
            if (doc.store.pendingStructs !== null) readerProblems.push('load has unintegrable structs')
            doc.destroy()
          }
        }
      }

      const writing$ = Promise.all(Array.from({ length: writers }, (_, w) => write(w))).finally(() => {
        writing = false
      })
      await Promise.all([writing$, compactor(relays[0]), compactor(relays[1]), reader(relays[0]), reader(relays[1])])

      expect(readerProblems, `seed ${seed}`).toEqual([])
      expect(compactions, 'both relays compacted repeatedly').toBeGreaterThan(4)
      expect(loads).toBeGreaterThan(4)

      const reference = new Y.Doc()
      for (const a of acked) Y.applyUpdate(reference, a.update)
      for (const relay of relays) {
        const stored = await relay.load(docName)
        if (stored === null) throw new Error('document vanished')
        expect(stored.snapshotSeq, 'something was compacted').toBeGreaterThan(0)
        const final = materialize(stored)
        expect(Y.encodeStateVector(final), `seed ${seed}`).toEqual(Y.encodeStateVector(reference))
        expect(final.getMap('m').toJSON(), `seed ${seed}`).toEqual(reference.getMap('m').toJSON())
        expect(final.getText('t').toString()).toBe(reference.getText('t').toString())
        expect(Object.keys(final.getMap('m').toJSON()).length).toBe(writers * editsPerWriter)
      }
    })
  })
}
