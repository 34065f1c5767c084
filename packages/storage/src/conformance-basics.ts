import { expect, it } from 'vitest'
import { bytes, call, expectPlainBytes, loadExisting, patterned, sameBytes } from './conformance-harness.js'
import type { Harness } from './conformance-harness.js'
import { MAX_DOC_NAME_BYTES } from './validate.js'

/** Append / load / list / remove, without compaction. */
export function registerBasicCases(h: Harness): void {
  it('load of an unknown document resolves null', async () => {
    expect(await call(() => h.adapter.load('never-stored'))).toBeNull()
  })

  it('list of empty storage resolves []', async () => {
    expect(await call(() => h.adapter.list())).toEqual([])
  })

  it('append resolves strictly increasing positive seqs', async () => {
    const seqs: number[] = []
    for (let i = 0; i < 20; i++) seqs.push(await call(() => h.adapter.append('doc', bytes(i))))
    expect(seqs[0]).toBeGreaterThan(0)
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] ?? Infinity)
    for (const seq of seqs) expect(Number.isSafeInteger(seq)).toBe(true)
  })

  it('load returns every update in seq order with exact bytes and no snapshot', async () => {
    const sent = [bytes(1), bytes(2, 3), bytes(255, 0, 128), bytes(4, 5, 6, 7)]
    const seqs: number[] = []
    for (const data of sent) seqs.push(await h.adapter.append('doc', data))
    const doc = await loadExisting(h.adapter, 'doc')
    expect(doc.snapshot).toBeNull()
    expect(doc.snapshotSeq).toBe(0)
    expect(doc.updates).toEqual(sent.map((data, i) => ({ seq: seqs[i], data })))
    for (const update of doc.updates) expectPlainBytes(update.data)
  })

  it('copies bytes in: mutating the appended array afterwards changes nothing', async () => {
    const data = bytes(1, 2, 3)
    await h.adapter.append('doc', data)
    data.fill(9)
    expect((await loadExisting(h.adapter, 'doc')).updates[0]?.data).toEqual(bytes(1, 2, 3))
  })

  it('copies bytes out: mutating a loaded array changes nothing', async () => {
    await h.adapter.append('doc', bytes(1, 2, 3))
    const first = await loadExisting(h.adapter, 'doc')
    first.updates[0]?.data.fill(9)
    expect((await loadExisting(h.adapter, 'doc')).updates[0]?.data).toEqual(bytes(1, 2, 3))
  })

  it('stores only the viewed bytes of a subarray', async () => {
    const backing = bytes(0, 1, 2, 3, 4, 5, 6, 7)
    await h.adapter.append('doc', backing.subarray(2, 5))
    const stored = (await loadExisting(h.adapter, 'doc')).updates[0]?.data
    expect(stored).toEqual(bytes(2, 3, 4))
    expect(stored?.byteLength).toBe(3)
  })

  it('round-trips an empty update', async () => {
    const seq = await h.adapter.append('doc', new Uint8Array(0))
    expect((await loadExisting(h.adapter, 'doc')).updates).toEqual([{ seq, data: new Uint8Array(0) }])
  })

  it('round-trips a 1 MiB update', async () => {
    const big = patterned(1024 * 1024, 7)
    const seq = await h.adapter.append('doc', big)
    const doc = await loadExisting(h.adapter, 'doc')
    expect(doc.updates.length).toBe(1)
    expect(doc.updates[0]?.seq).toBe(seq)
    expect(sameBytes(doc.updates[0]?.data, big)).toBe(true)
  })

  it('concurrent appends get distinct seqs and load pairs each seq with its bytes', async () => {
    const sent = Array.from({ length: 50 }, (_, i) => bytes(i, i + 1))
    const seqs = await Promise.all(sent.map((data) => h.adapter.append('doc', data)))
    expect(new Set(seqs).size).toBe(sent.length)
    const bySeq = new Map(seqs.map((seq, i) => [seq, sent[i]]))
    const doc = await loadExisting(h.adapter, 'doc')
    expect(doc.updates.map((u) => u.seq)).toEqual([...seqs].sort((a, b) => a - b))
    for (const update of doc.updates) expect(update.data).toEqual(bySeq.get(update.seq))
  })

  it('list names every stored document exactly once', async () => {
    const names = ['alpha', 'beta', 'gamma']
    for (const name of names) {
      await h.adapter.append(name, bytes(1))
      await h.adapter.append(name, bytes(2))
    }
    expect([...(await call(() => h.adapter.list()))].sort()).toEqual(names)
  })

  it('keeps many documents isolated', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `doc-${i}`)
    // Interleave appends across documents so a shared counter or index would show.
    for (let round = 0; round < 3; round++) {
      for (const [i, name] of names.entries()) await h.adapter.append(name, bytes(i, round))
    }
    for (const [i, name] of names.entries()) {
      const doc = await loadExisting(h.adapter, name)
      expect(doc.updates.map((u) => u.data)).toEqual([bytes(i, 0), bytes(i, 1), bytes(i, 2)])
    }
    expect((await h.adapter.list()).length).toBe(names.length)
  })

  it('accepts unusual document names verbatim and keeps them apart', async () => {
    const names = [
      'a/b/c',
      '../../etc/passwd',
      'with space',
      ' leading and trailing ',
      '😀 emoji 🧪',
      'ünïcödé-ß-日本語',
      'tab\tnew\nline',
      '.',
      '%2F%00',
      `quote'"\\back`,
      'Case',
      'case',
      'x'.repeat(MAX_DOC_NAME_BYTES),
      '€'.repeat(Math.floor(MAX_DOC_NAME_BYTES / 3))
    ]
    for (const [i, name] of names.entries()) await h.adapter.append(name, bytes(i))
    for (const [i, name] of names.entries()) {
      expect((await loadExisting(h.adapter, name)).updates.map((u) => u.data)).toEqual([bytes(i)])
    }
    expect([...(await h.adapter.list())].sort()).toEqual([...names].sort())
  })

  it('remove deletes the document: load is null and list excludes it', async () => {
    await h.adapter.append('gone', bytes(1))
    await h.adapter.append('kept', bytes(2))
    await h.adapter.compact('gone', bytes(9), await h.adapter.append('gone', bytes(3)))
    await call(() => h.adapter.remove('gone'))
    expect(await h.adapter.load('gone')).toBeNull()
    expect(await h.adapter.list()).toEqual(['kept'])
    expect((await loadExisting(h.adapter, 'kept')).updates.map((u) => u.data)).toEqual([bytes(2)])
  })

  it('remove of an unknown document resolves', async () => {
    await expect(call(() => h.adapter.remove('never-stored'))).resolves.toBeUndefined()
  })

  it('a removed document can be stored again from scratch', async () => {
    const first = await h.adapter.append('doc', bytes(1))
    await h.adapter.append('doc', bytes(2))
    await h.adapter.compact('doc', bytes(9), first)
    await h.adapter.remove('doc')
    // Nothing of the old document (snapshot, leftover updates) may leak into the new one.
    const a = await h.adapter.append('doc', bytes(3))
    const b = await h.adapter.append('doc', bytes(4))
    expect(a).toBeGreaterThan(0)
    expect(await h.adapter.load('doc')).toEqual({
      snapshot: null,
      snapshotSeq: 0,
      updates: [
        { seq: a, data: bytes(3) },
        { seq: b, data: bytes(4) }
      ]
    })
  })
}
