import { expect, it } from 'vitest'
import { isStorageError } from './errors.js'
import type { Harness } from './conformance-harness.js'
import type { StorageAdapter } from './types.js'

type DocIndexAdapter = StorageAdapter & Required<Pick<StorageAdapter, 'listDocuments' | 'tombstone' | 'loadTombstone' | 'listTombstones'>>

/** The adapter with the document-index methods, or null (the cases are skipped); all four or none. */
function indexed(s: StorageAdapter): DocIndexAdapter | null {
  const has = [s.listDocuments, s.tombstone, s.loadTombstone, s.listTombstones].map((m) => typeof m === 'function')
  expect(has.every((x) => x) || has.every((x) => !x)).toBe(true)
  return has[0] === true ? (s as DocIndexAdapter) : null
}

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b)

/** The optional listing and tombstone methods (doc-index.ts). */
export function registerDocIndexCases(h: Harness): void {
  it('lists by UTF-8 byte order with a prefix, a cursor and a limit, with sizes and last seqs', async () => {
    const s = indexed(h.adapter)
    if (s === null) return
    expect(await s.listDocuments({ limit: 10 })).toEqual([])
    // 'é' (U+00E9, 2 bytes) sorts after 'z' in byte order; '_' (0x5F) before 'a'.
    for (const name of ['b/2', 'a/é', 'a/z', 'a/_', 'ab', 'a/1']) await s.append(name, bytes(1, 2, 3))
    await s.append('a/1', bytes(4, 5))
    const all = await s.listDocuments({ limit: 100 })
    expect(all.map((e) => e.docName)).toEqual(['a/1', 'a/_', 'a/z', 'a/é', 'ab', 'b/2'])
    expect(all[0]).toEqual({ docName: 'a/1', bytes: 5, lastSeq: 2, lastChangeAtMs: expect.any(Number) })
    const page1 = await s.listDocuments({ prefix: 'a/', limit: 2 })
    expect(page1.map((e) => e.docName)).toEqual(['a/1', 'a/_'])
    const page2 = await s.listDocuments({ prefix: 'a/', after: 'a/_', limit: 2 })
    expect(page2.map((e) => e.docName)).toEqual(['a/z', 'a/é'])
    expect(await s.listDocuments({ prefix: 'a/', after: 'a/é', limit: 2 })).toEqual([])
    // Prefixes are literal: no LIKE wildcards.
    expect(await s.listDocuments({ prefix: 'a_', limit: 10 })).toEqual([])
  })

  it('counts the snapshot and the updates after it, and keeps lastSeq and lastChangeAtMs across compaction', async () => {
    const s = indexed(h.adapter)
    if (s === null) return
    await s.append('d', bytes(1))
    await s.append('d', bytes(2, 2))
    await s.append('d', bytes(3, 3, 3))
    const [before] = await s.listDocuments({ limit: 10 })
    await s.compact('d', bytes(9, 9, 9, 9), 2)
    expect(await s.listDocuments({ limit: 10 })).toEqual([{ docName: 'd', bytes: 7, lastSeq: 3, lastChangeAtMs: before?.lastChangeAtMs }])
  })

  it('stamps the time of the last append (append and appendMany), by the storage clock', async () => {
    const s = indexed(h.adapter)
    if (s === null) return
    // The storage's clock may be a database server's: allow a skew, but it must be a real time.
    const SKEW_MS = 60_000
    const startMs = Date.now()
    // appendMany is optional: an adapter without it is checked through append alone.
    const appendMany = async (name: string, updates: Uint8Array[]): Promise<unknown> =>
      s.appendMany !== undefined ? s.appendMany(name, updates) : Promise.all(updates.map((u) => s.append(name, u)))
    await s.append('t/a', bytes(1))
    await appendMany('t/b', [bytes(1), bytes(2)])
    const first = await s.listDocuments({ prefix: 't/', limit: 10 })
    for (const e of first) {
      expect(e.lastChangeAtMs).toBeTypeOf('number')
      expect(Math.abs((e.lastChangeAtMs ?? 0) - startMs)).toBeLessThan(SKEW_MS)
    }
    await appendMany('t/a', [bytes(3)])
    const [a] = await s.listDocuments({ prefix: 't/a', limit: 1 })
    expect(a?.lastChangeAtMs).toBeGreaterThanOrEqual(first[0]?.lastChangeAtMs ?? Infinity)
  })

  it('tombstones remove the document atomically, keep the first time, and survive remove', async () => {
    const s = indexed(h.adapter)
    if (s === null) return
    await s.append('gone', bytes(1))
    await s.append('kept', bytes(1))
    expect(await s.loadTombstone('gone')).toBeNull()
    await s.tombstone('gone', 1000)
    await s.tombstone('gone', 2000)
    expect(await s.load('gone')).toBeNull()
    expect(await s.loadTombstone('gone')).toEqual({ docName: 'gone', deletedAtMs: 1000 })
    await s.tombstone('never-stored', 5)
    await s.remove('gone')
    expect((await s.listTombstones()).sort((a, b) => a.deletedAtMs - b.deletedAtMs)).toEqual([
      { docName: 'never-stored', deletedAtMs: 5 },
      { docName: 'gone', deletedAtMs: 1000 }
    ])
    // A late append (a relay that had not heard of it) stores, but the name stays out of the listing.
    await s.append('gone', bytes(7))
    expect((await s.listDocuments({ limit: 10 })).map((e) => e.docName)).toEqual(['kept'])
  })

  it('refuses bad listing options and bad tombstones with ERR_STORAGE_INVALID_ARGUMENT', async () => {
    const s = indexed(h.adapter)
    if (s === null) return
    for (const options of [{ limit: 0 }, { limit: 1001 }, { limit: 1.5 }, { limit: 1, prefix: 3 }, null]) {
      const err = await s.listDocuments(options as never).then(() => null, (e: unknown) => e)
      expect(isStorageError(err, 'ERR_STORAGE_INVALID_ARGUMENT')).toBe(true)
    }
    for (const [name, at] of [['', 1], ['x', -1], ['x', Number.NaN]] as const) {
      const err = await s.tombstone(name, at).then(() => null, (e: unknown) => e)
      expect(isStorageError(err, 'ERR_STORAGE_INVALID_ARGUMENT')).toBe(true)
    }
  })

  it('keeps tombstones across a reopen', async () => {
    const s = indexed(h.adapter)
    if (s === null) return
    await s.tombstone('gone', 42)
    if (!h.canReopen) return
    const reopened = await h.reopen()
    expect(await reopened.loadTombstone?.('gone')).toEqual({ docName: 'gone', deletedAtMs: 42 })
  })
}
