import { expect, it } from 'vitest'
import { bytes, call, expectPlainBytes, expectStorageError, loadExisting } from './conformance-harness.js'
import type { Harness } from './conformance-harness.js'
import type { StorageAdapter } from './types.js'

async function appendAll(adapter: StorageAdapter, docName: string, count: number): Promise<number[]> {
  const seqs: number[] = []
  for (let i = 0; i < count; i++) seqs.push(await adapter.append(docName, bytes(i)))
  return seqs
}

function seqAt(seqs: readonly number[], index: number): number {
  const seq = seqs[index]
  if (seq === undefined) throw new Error(`no seq at ${index}`)
  return seq
}

export function registerCompactionCases(h: Harness): void {
  it('compact replaces updates with seq <= throughSeq by the snapshot and keeps later ones', async () => {
    const seqs = await appendAll(h.adapter, 'doc', 5)
    await call(() => h.adapter.compact('doc', bytes(100, 101), seqAt(seqs, 2)))
    const doc = await loadExisting(h.adapter, 'doc')
    expect(doc.snapshot).toEqual(bytes(100, 101))
    expectPlainBytes(doc.snapshot)
    expect(doc.snapshotSeq).toBe(seqs[2])
    expect(doc.updates).toEqual([
      { seq: seqs[3], data: bytes(3) },
      { seq: seqs[4], data: bytes(4) }
    ])
  })

  it('compact through the last seq leaves only the snapshot', async () => {
    const seqs = await appendAll(h.adapter, 'doc', 3)
    await h.adapter.compact('doc', bytes(7), seqAt(seqs, 2))
    expect(await h.adapter.load('doc')).toEqual({ snapshot: bytes(7), snapshotSeq: seqs[2], updates: [] })
    expect(await h.adapter.list()).toEqual(['doc'])
  })

  it('compact with throughSeq <= the stored snapshotSeq is a no-op', async () => {
    const seqs = await appendAll(h.adapter, 'doc', 5)
    await h.adapter.compact('doc', bytes(1, 1), seqAt(seqs, 2))
    const before = await h.adapter.load('doc')
    await call(() => h.adapter.compact('doc', bytes(2, 2), seqAt(seqs, 1))) // older
    await call(() => h.adapter.compact('doc', bytes(3, 3), seqAt(seqs, 2))) // repeated
    await call(() => h.adapter.compact('doc', bytes(4, 4), 0))
    expect(await h.adapter.load('doc')).toEqual(before)
  })

  it('compact of an unknown document with throughSeq 0 is a no-op', async () => {
    await call(() => h.adapter.compact('never-stored', bytes(1), 0))
    expect(await h.adapter.load('never-stored')).toBeNull()
    expect(await h.adapter.list()).toEqual([])
  })

  it('compact beyond the last appended seq rejects with ERR_STORAGE_INVALID_ARGUMENT and changes nothing', async () => {
    const seqs = await appendAll(h.adapter, 'doc', 2)
    const before = await h.adapter.load('doc')
    await expectStorageError(call(() => h.adapter.compact('doc', bytes(9), seqAt(seqs, 1) + 1)), 'ERR_STORAGE_INVALID_ARGUMENT')
    await expectStorageError(call(() => h.adapter.compact('never-stored', bytes(9), 1)), 'ERR_STORAGE_INVALID_ARGUMENT')
    expect(await h.adapter.load('doc')).toEqual(before)
    expect(await h.adapter.load('never-stored')).toBeNull()
  })

  it('seqs keep increasing after compaction: folded seqs are never reused', async () => {
    const seqs = await appendAll(h.adapter, 'doc', 3)
    const last = seqAt(seqs, 2)
    await h.adapter.compact('doc', bytes(7), last)
    const next = await h.adapter.append('doc', bytes(8))
    expect(next).toBeGreaterThan(last)
    expect(await h.adapter.load('doc')).toEqual({ snapshot: bytes(7), snapshotSeq: last, updates: [{ seq: next, data: bytes(8) }] })
  })

  it('updates appended between load and compact survive the compaction', async () => {
    await appendAll(h.adapter, 'doc', 3)
    const seen = await loadExisting(h.adapter, 'doc')
    const late = [await h.adapter.append('doc', bytes(50)), await h.adapter.append('doc', bytes(51))]
    const through = seen.updates.at(-1)?.seq ?? 0
    await h.adapter.compact('doc', bytes(7), through)
    expect(await h.adapter.load('doc')).toEqual({
      snapshot: bytes(7),
      snapshotSeq: through,
      updates: [
        { seq: late[0], data: bytes(50) },
        { seq: late[1], data: bytes(51) }
      ]
    })
  })

  it('successive compactions move the snapshot forward', async () => {
    const seqs = await appendAll(h.adapter, 'doc', 6)
    await h.adapter.compact('doc', bytes(1), seqAt(seqs, 1))
    await h.adapter.compact('doc', bytes(2), seqAt(seqs, 4))
    expect(await h.adapter.load('doc')).toEqual({ snapshot: bytes(2), snapshotSeq: seqs[4], updates: [{ seq: seqs[5], data: bytes(5) }] })
  })

  it('copies snapshots in and out', async () => {
    const seqs = await appendAll(h.adapter, 'doc', 1)
    const snapshot = bytes(1, 2, 3)
    await h.adapter.compact('doc', snapshot, seqAt(seqs, 0))
    snapshot.fill(0)
    const first = await loadExisting(h.adapter, 'doc')
    first.snapshot?.fill(0)
    expect((await loadExisting(h.adapter, 'doc')).snapshot).toEqual(bytes(1, 2, 3))
  })

  it('compaction of one document leaves the others untouched', async () => {
    const a = await appendAll(h.adapter, 'a', 3)
    await appendAll(h.adapter, 'b', 3)
    const before = await h.adapter.load('b')
    await h.adapter.compact('a', bytes(9), seqAt(a, 2))
    expect(await h.adapter.load('b')).toEqual(before)
  })
}
