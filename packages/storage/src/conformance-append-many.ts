import { expect, it } from 'vitest'
import { bytes, call, expectPlainBytes, expectStorageError, loadExisting } from './conformance-harness.js'
import type { Harness } from './conformance-harness.js'
import type { StorageAdapter } from './types.js'

type AppendMany = NonNullable<StorageAdapter['appendMany']>

/** `appendMany` (optional group commit); skipped, visibly, for adapters without it. */
export function registerAppendManyCases(h: Harness): void {
  const many = (name: string, fn: (appendMany: AppendMany) => Promise<void>): void => {
    it(`[appendMany] ${name}`, async (ctx) => {
      const adapter = h.adapter
      if (adapter.appendMany === undefined) ctx.skip('adapter has no appendMany()')
      else await fn((docName, updates) => call(() => (adapter.appendMany as AppendMany).call(adapter, docName, updates)))
    })
  }

  many('stores each update as its own entry, in order, after earlier appends', async (appendMany) => {
    const first = await h.adapter.append('doc', bytes(0))
    const sent = [bytes(1), bytes(2, 3), new Uint8Array(0), bytes(4, 5, 6)]
    const seqs = await appendMany('doc', sent)
    expect(seqs).toHaveLength(sent.length)
    expect(seqs[0]).toBeGreaterThan(first)
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] ?? Infinity)
    const last = await h.adapter.append('doc', bytes(7))
    expect(last).toBeGreaterThan(seqs.at(-1) ?? Infinity)
    const doc = await loadExisting(h.adapter, 'doc')
    expect(doc.updates).toEqual([
      { seq: first, data: bytes(0) },
      ...sent.map((data, i) => ({ seq: seqs[i], data })),
      { seq: last, data: bytes(7) }
    ])
    for (const update of doc.updates) expectPlainBytes(update.data)
  })

  many('creates the document, and an empty list stores nothing', async (appendMany) => {
    expect(await appendMany('empty', [])).toEqual([])
    expect(await h.adapter.load('empty')).toBeNull()
    const seqs = await appendMany('fresh', [bytes(1), bytes(2)])
    expect((await loadExisting(h.adapter, 'fresh')).updates).toEqual([{ seq: seqs[0], data: bytes(1) }, { seq: seqs[1], data: bytes(2) }])
    expect(await h.adapter.list()).toEqual(['fresh'])
  })

  many('copies bytes in (subarrays included)', async (appendMany) => {
    const backing = bytes(0, 1, 2, 3, 4, 5)
    const a = backing.subarray(1, 3)
    const b = bytes(9, 9)
    await appendMany('doc', [a, b])
    backing.fill(0)
    b.fill(0)
    expect((await loadExisting(h.adapter, 'doc')).updates.map((u) => u.data)).toEqual([bytes(1, 2), bytes(9, 9)])
  })

  many('is all or nothing: one invalid element rejects with ERR_STORAGE_INVALID_ARGUMENT and stores none', async (appendMany) => {
    await h.adapter.append('doc', bytes(1))
    const before = await h.adapter.load('doc')
    const bad = [bytes(2), [3] as unknown as Uint8Array, bytes(4)]
    await expectStorageError(appendMany('doc', bad), 'ERR_STORAGE_INVALID_ARGUMENT')
    await expectStorageError(appendMany('doc', 'nope' as unknown as Uint8Array[]), 'ERR_STORAGE_INVALID_ARGUMENT')
    await expectStorageError(appendMany('', [bytes(1)]), 'ERR_STORAGE_INVALID_ARGUMENT')
    expect(await h.adapter.load('doc')).toEqual(before)
    expect(await h.adapter.list()).toEqual(['doc'])
  })

  many('concurrent lists and appends get distinct seqs, each list contiguous in order', async (appendMany) => {
    const lists = Array.from({ length: 10 }, (_, i) => [bytes(i, 0), bytes(i, 1), bytes(i, 2)])
    const results = await Promise.all([...lists.map((l) => appendMany('doc', l)), h.adapter.append('doc', bytes(99))])
    const all = results.flat()
    expect(new Set(all).size).toBe(31)
    const bySeq = new Map<number, Uint8Array>()
    lists.forEach((list, i) => list.forEach((data, j) => bySeq.set((results[i] as number[])[j] as number, data)))
    bySeq.set(results[10] as number, bytes(99))
    const doc = await loadExisting(h.adapter, 'doc')
    expect(doc.updates.map((u) => u.seq)).toEqual([...all].sort((a, b) => a - b))
    for (const update of doc.updates) expect(update.data).toEqual(bySeq.get(update.seq))
  })

  many('compaction folds updates stored by a list and keeps the later ones', async (appendMany) => {
    const seqs = await appendMany('doc', [bytes(1), bytes(2), bytes(3)])
    await h.adapter.compact('doc', bytes(42), seqs[1] ?? 0)
    expect(await h.adapter.load('doc')).toEqual({ snapshot: bytes(42), snapshotSeq: seqs[1], updates: [{ seq: seqs[2], data: bytes(3) }] })
    const next = await appendMany('doc', [bytes(4)])
    expect(next[0]).toBeGreaterThan(seqs[2] ?? Infinity)
  })

  many('rejects with ERR_STORAGE_CLOSED after close', async (appendMany) => {
    await h.adapter.close()
    await expectStorageError(appendMany('doc', [bytes(1)]), 'ERR_STORAGE_CLOSED')
  })

  it('[appendMany] [durable] lists survive close and reopen', async (ctx) => {
    if (h.adapter.appendMany === undefined) ctx.skip('adapter has no appendMany()')
    if (!h.canReopen) ctx.skip('fixture has no reopen()')
    const seqs = (await h.adapter.appendMany?.('doc', [bytes(1), bytes(2)])) ?? []
    const reopened = await h.reopen()
    expect((await loadExisting(reopened, 'doc')).updates).toEqual([{ seq: seqs[0], data: bytes(1) }, { seq: seqs[1], data: bytes(2) }])
  })
}
