import { expect, it } from 'vitest'
import { bytes, expectStorageError, type Harness } from './conformance-harness.js'

/** The optional change-feed methods (change-feed.ts); each case is skipped for adapters without its methods. */
export function registerChangeFeedCases(h: Harness): void {
  it('readChanges: null for an unknown document, then the updates after a seq, bounded by limit', async () => {
    const s = h.adapter
    if (s.readChanges === undefined) return
    expect(await s.readChanges('nope', 0, 10)).toBeNull()
    for (let i = 1; i <= 5; i++) await s.append('d', bytes(i))
    const all = await s.readChanges('d', 0, 10)
    expect(all).toEqual({ snapshot: null, updates: [1, 2, 3, 4, 5].map((i) => ({ seq: i, data: bytes(i) })), headSeq: 5 })
    const page = await s.readChanges('d', 2, 2)
    expect(page?.updates.map((u) => u.seq)).toEqual([3, 4])
    expect(await s.readChanges('d', 5, 10)).toEqual({ snapshot: null, updates: [], headSeq: 5 })
    await expectStorageError(s.readChanges('d', -1, 10), 'ERR_STORAGE_INVALID_ARGUMENT')
    await expectStorageError(s.readChanges('d', 0, -1), 'ERR_STORAGE_INVALID_ARGUMENT')
  })

  it('readChanges across compaction: the snapshot only when asked for folded changes, then the updates after it', async () => {
    const s = h.adapter
    if (s.readChanges === undefined) return
    for (let i = 1; i <= 5; i++) await s.append('d', bytes(i))
    await s.compact('d', bytes(9, 9), 3)
    expect(await s.readChanges('d', 1, 10)).toEqual({ snapshot: { seq: 3, data: bytes(9, 9) }, updates: [4, 5].map((i) => ({ seq: i, data: bytes(i) })), headSeq: 5 })
    expect(await s.readChanges('d', 3, 10)).toEqual({ snapshot: null, updates: [4, 5].map((i) => ({ seq: i, data: bytes(i) })), headSeq: 5 })
    await s.compact('d', bytes(8), 5)
    expect(await s.readChanges('d', 4, 10)).toEqual({ snapshot: { seq: 5, data: bytes(8) }, updates: [], headSeq: 5 })
    expect(await s.readChanges('d', 5, 10)).toEqual({ snapshot: null, updates: [], headSeq: 5 })
  })

  it('readChangeLog: every append in commit order, resumable from any cursor', async () => {
    const s = h.adapter
    if (s.readChangeLog === undefined) return
    expect(await s.readChangeLog(null, 10)).toEqual([])
    await s.append('a', bytes(1))
    await s.append('b', bytes(2))
    if (s.appendMany !== undefined) await s.appendMany('a', [bytes(3), bytes(4)])
    else for (const u of [bytes(3), bytes(4)]) await s.append('a', u)
    const all = await s.readChangeLog(null, 100)
    expect(all.map((e) => [e.doc, e.seq, [...(e.data ?? [])]])).toEqual([['a', 1, [1]], ['b', 1, [2]], ['a', 2, [3]], ['a', 3, [4]]])
    expect(new Set(all.map((e) => e.cursor)).size).toBe(4)
    const first = await s.readChangeLog(null, 2)
    expect(first.map((e) => e.seq)).toEqual([1, 1])
    const rest = await s.readChangeLog(first[1]?.cursor ?? null, 100)
    expect(rest.map((e) => [e.doc, e.seq])).toEqual([['a', 2], ['a', 3]])
    expect(await s.readChangeLog(rest[1]?.cursor ?? null, 100)).toEqual([])
    await s.append('b', bytes(5))
    expect((await s.readChangeLog(rest[1]?.cursor ?? null, 100)).map((e) => [e.doc, e.seq])).toEqual([['b', 2]])
    await expectStorageError(s.readChangeLog('not a cursor', 10), 'ERR_STORAGE_INVALID_ARGUMENT')
  })

  it('readChangeLog after compaction keeps the newest folded entry (data null); remove drops the document', async () => {
    const s = h.adapter
    if (s.readChangeLog === undefined) return
    // An adapter may create its log on first use (seeded with each document's head): start it first.
    expect(await s.readChangeLog(null, 0)).toEqual([])
    for (let i = 1; i <= 4; i++) await s.append('a', bytes(i))
    await s.append('b', bytes(7))
    await s.compact('a', bytes(9), 3)
    const entries = await s.readChangeLog(null, 100)
    expect(entries.map((e) => [e.doc, e.seq, e.data === null ? null : [...e.data]])).toEqual([['a', 3, null], ['a', 4, [4]], ['b', 1, [7]]])
    await s.remove('a')
    expect((await s.readChangeLog(null, 100)).map((e) => [e.doc, e.seq])).toEqual([['b', 1]])
  })

  it('readChangeLog started after documents were stored shows each of them at least at its head', async () => {
    const s = h.adapter
    if (s.readChangeLog === undefined) return
    await s.append('old', bytes(1))
    await s.append('old', bytes(2))
    const entries = await s.readChangeLog(null, 100)
    expect(entries.at(-1)).toMatchObject({ doc: 'old', seq: 2 })
  })

  it('cursors: saved per consumer, null deletes, durable across a reopen', async () => {
    const s = h.adapter
    if (s.loadCursors === undefined || s.saveCursors === undefined) return
    expect(await s.loadCursors('hook-1')).toEqual({})
    await s.saveCursors('hook-1', { a: '3', b: 'x' })
    await s.saveCursors('hook-2', { a: '9' })
    await s.saveCursors('hook-1', { a: '4', b: null })
    expect(await s.loadCursors('hook-1')).toEqual({ a: '4' })
    expect(await s.loadCursors('hook-2')).toEqual({ a: '9' })
    await expectStorageError(s.saveCursors('hook-1', { a: 3 } as never), 'ERR_STORAGE_INVALID_ARGUMENT')
    if (!h.canReopen) return
    const reopened = await h.reopen()
    expect(await reopened.loadCursors?.('hook-1')).toEqual({ a: '4' })
  })

  it('leases: one holder at a time, renewed by its holder, free after release or expiry', async () => {
    const s = h.adapter
    if (s.acquireLease === undefined || s.releaseLease === undefined) return
    expect(await s.acquireLease('w', 'r1', 60_000)).toBe(true)
    expect(await s.acquireLease('w', 'r2', 60_000)).toBe(false)
    expect(await s.acquireLease('w', 'r1', 60_000)).toBe(true)
    expect(await s.acquireLease('other', 'r2', 60_000)).toBe(true)
    await s.releaseLease('w', 'r2')
    expect(await s.acquireLease('w', 'r2', 60_000)).toBe(false)
    await s.releaseLease('w', 'r1')
    expect(await s.acquireLease('w', 'r2', 30)).toBe(true)
    // The storage's own clock decides expiry: poll it (bounded) rather than guess a sleep.
    let taken = false
    for (let i = 0; i < 100 && !taken; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      taken = await s.acquireLease('w', 'r1', 60_000)
    }
    expect(taken).toBe(true)
  })
}
