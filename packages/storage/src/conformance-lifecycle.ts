import { expect, it } from 'vitest'
import { bytes, call, expectStorageError, loadExisting } from './conformance-harness.js'
import type { Harness } from './conformance-harness.js'
import type { StorageAdapter } from './types.js'
import { MAX_DOC_NAME_BYTES } from './validate.js'

/** Values smuggled past the type system, as a JavaScript caller or bad cast could. */
const BAD_DOC_NAMES: readonly unknown[] = [
  '',
  42,
  null,
  undefined,
  ['doc'],
  'x'.repeat(MAX_DOC_NAME_BYTES + 1),
  // Under the limit in UTF-16 code units, over it in UTF-8 bytes.
  '€'.repeat(Math.floor(MAX_DOC_NAME_BYTES / 3) + 1),
  'lone \ud800 surrogate',
  'nul\u0000byte'
]
const BAD_BYTES: readonly unknown[] = [[1, 2, 3], 'abc', null, undefined, 7, new ArrayBuffer(3), new DataView(new ArrayBuffer(3)), new Uint16Array(2)]
const BAD_SEQS: readonly unknown[] = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1', null, undefined, 2 ** 53, 10n]

// Casts for the invalid-argument cases only.
const asName = (value: unknown): string => value as string
const asBytes = (value: unknown): Uint8Array => value as Uint8Array
const asSeq = (value: unknown): number => value as number

export function registerLifecycleCases(h: Harness): void {
  it('after close every call rejects with ERR_STORAGE_CLOSED, and close is idempotent', async () => {
    const seq = await h.adapter.append('doc', bytes(1))
    const adapter = h.adapter
    await call(() => adapter.close())
    await expectStorageError(call(() => adapter.load('doc')), 'ERR_STORAGE_CLOSED')
    await expectStorageError(call(() => adapter.append('doc', bytes(2))), 'ERR_STORAGE_CLOSED')
    await expectStorageError(call(() => adapter.compact('doc', bytes(3), seq)), 'ERR_STORAGE_CLOSED')
    await expectStorageError(call(() => adapter.remove('doc')), 'ERR_STORAGE_CLOSED')
    await expectStorageError(call(() => adapter.list()), 'ERR_STORAGE_CLOSED')
    // Closed wins over argument validation: the adapter does no work at all.
    await expectStorageError(call(() => adapter.load(asName(42))), 'ERR_STORAGE_CLOSED')
    await expect(call(() => adapter.close())).resolves.toBeUndefined()
  })

  it('invalid document names reject with ERR_STORAGE_INVALID_ARGUMENT and store nothing', async () => {
    for (const name of BAD_DOC_NAMES) {
      const docName = asName(name)
      await expectStorageError(call(() => h.adapter.load(docName)), 'ERR_STORAGE_INVALID_ARGUMENT')
      await expectStorageError(call(() => h.adapter.append(docName, bytes(1))), 'ERR_STORAGE_INVALID_ARGUMENT')
      await expectStorageError(call(() => h.adapter.compact(docName, bytes(1), 0)), 'ERR_STORAGE_INVALID_ARGUMENT')
      await expectStorageError(call(() => h.adapter.remove(docName)), 'ERR_STORAGE_INVALID_ARGUMENT')
    }
    expect(await h.adapter.list()).toEqual([])
  })

  it('invalid updates and snapshots reject with ERR_STORAGE_INVALID_ARGUMENT and store nothing', async () => {
    const seq = await h.adapter.append('doc', bytes(1))
    const before = await h.adapter.load('doc')
    for (const value of BAD_BYTES) {
      await expectStorageError(call(() => h.adapter.append('doc', asBytes(value))), 'ERR_STORAGE_INVALID_ARGUMENT')
      await expectStorageError(call(() => h.adapter.append('fresh', asBytes(value))), 'ERR_STORAGE_INVALID_ARGUMENT')
      await expectStorageError(call(() => h.adapter.compact('doc', asBytes(value), seq)), 'ERR_STORAGE_INVALID_ARGUMENT')
    }
    expect(await h.adapter.load('doc')).toEqual(before)
    expect(await h.adapter.list()).toEqual(['doc'])
  })

  it('invalid throughSeq values reject with ERR_STORAGE_INVALID_ARGUMENT', async () => {
    await h.adapter.append('doc', bytes(1))
    const before = await h.adapter.load('doc')
    for (const value of BAD_SEQS) {
      await expectStorageError(call(() => h.adapter.compact('doc', bytes(1), asSeq(value))), 'ERR_STORAGE_INVALID_ARGUMENT')
    }
    expect(await h.adapter.load('doc')).toEqual(before)
  })

  it('the adapter stays usable after rejected calls', async () => {
    await expectStorageError(h.adapter.append('', bytes(1)), 'ERR_STORAGE_INVALID_ARGUMENT')
    await expectStorageError(h.adapter.compact('doc', bytes(1), 5), 'ERR_STORAGE_INVALID_ARGUMENT')
    const seq = await h.adapter.append('doc', bytes(1))
    expect((await loadExisting(h.adapter, 'doc')).updates).toEqual([{ seq, data: bytes(1) }])
  })
}

/** Cases that need `reopen`; skipped (visibly) for non-durable adapters. */
export function registerDurabilityCases(h: Harness): void {
  const durable = (name: string, fn: () => Promise<void>): void => {
    it(`[durable] ${name}`, async (ctx) => {
      if (!h.canReopen) ctx.skip('fixture has no reopen()')
      await fn()
    })
  }
  const snapshotOf = async (adapter: StorageAdapter) => {
    const names = [...(await adapter.list())].sort()
    return Promise.all(names.map(async (name) => ({ name, doc: await adapter.load(name) })))
  }

  durable('appended updates survive close and reopen', async () => {
    for (let i = 0; i < 10; i++) await h.adapter.append(`doc-${i % 3}`, bytes(i, i))
    const before = await snapshotOf(h.adapter)
    const reopened = await h.reopen()
    expect(await snapshotOf(reopened)).toEqual(before)
  })

  durable('compaction survives reopen', async () => {
    const seqs: number[] = []
    for (let i = 0; i < 5; i++) seqs.push(await h.adapter.append('doc', bytes(i)))
    await h.adapter.compact('doc', bytes(42, 42), seqs[2] ?? 0)
    const before = await h.adapter.load('doc')
    const reopened = await h.reopen()
    expect(await reopened.load('doc')).toEqual(before)
  })

  durable('seqs are never reused after compaction and reopen', async () => {
    let last = 0
    for (let i = 0; i < 3; i++) last = await h.adapter.append('doc', bytes(i))
    await h.adapter.compact('doc', bytes(7), last)
    const reopened = await h.reopen()
    const next = await reopened.append('doc', bytes(8))
    expect(next).toBeGreaterThan(last)
    expect(await reopened.load('doc')).toEqual({ snapshot: bytes(7), snapshotSeq: last, updates: [{ seq: next, data: bytes(8) }] })
  })

  durable('remove survives reopen', async () => {
    await h.adapter.append('gone', bytes(1))
    await h.adapter.append('kept', bytes(2))
    await h.adapter.remove('gone')
    const reopened = await h.reopen()
    expect(await reopened.load('gone')).toBeNull()
    expect(await reopened.list()).toEqual(['kept'])
  })

  durable('a reopened adapter can be closed and reopened again', async () => {
    const seq = await h.adapter.append('doc', bytes(1))
    await h.reopen()
    const again = await h.reopen()
    expect((await loadExisting(again, 'doc')).updates).toEqual([{ seq, data: bytes(1) }])
  })
}
