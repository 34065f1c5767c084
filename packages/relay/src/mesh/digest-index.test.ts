import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { BUCKETS, DIGEST_BYTES, DigestIndex, docDigest } from './digest-index.js'

const digest = (byte: number): Uint8Array => new Uint8Array(DIGEST_BYTES).fill(byte)

/** An index holding `docs` ([name, digest byte]), set in the given order. */
function indexOf(docs: [string, number][]): DigestIndex {
  const index = new DigestIndex()
  for (const [name, byte] of docs) index.set(name, digest(byte))
  return index
}

describe('DigestIndex', () => {
  // [case, one relay's documents, the other's, whether the roots are equal]
  const table: [string, [string, number][], [string, number][], boolean][] = [
    ['both empty', [], [], true],
    ['the same documents', [['a', 1], ['b', 2]], [['a', 1], ['b', 2]], true],
    ['the same documents set in another order', [['a', 1], ['b', 2], ['c', 3]], [['c', 3], ['a', 1], ['b', 2]], true],
    ['one document differs', [['a', 1], ['b', 2]], [['a', 1], ['b', 9]], false],
    ['one document missing', [['a', 1], ['b', 2]], [['a', 1]], false],
    ['the same digests under other names', [['a', 1]], [['z', 1]], false]
  ]
  for (const [name, mine, theirs, equal] of table) {
    it(`roots: ${name}`, () => {
      const a = indexOf(mine)
      const b = indexOf(theirs)
      expect(Buffer.compare(a.root(), b.root()) === 0).toBe(equal)
      const differing = a.differingBuckets(b.bucketHashes())
      expect(differing.length === 0).toBe(equal)
      // The documents to compare are exactly those of the differing buckets, on either side.
      const names = new Set([...a.docsIn(differing), ...b.docsIn(differing)].map((d) => d.docName))
      for (const [doc] of [...mine, ...theirs]) {
        const mineDigest = a.digestOf(doc)
        const theirDigest = b.digestOf(doc)
        const same = mineDigest !== null && theirDigest !== null && Buffer.compare(mineDigest, theirDigest) === 0
        if (!same) expect(names.has(doc), doc).toBe(true)
      }
    })
  }

  it('setting a digest back, or removing a document, restores the previous root', () => {
    const index = indexOf([['a', 1], ['b', 2]])
    const root = index.root()
    index.set('a', digest(7))
    expect(Buffer.compare(index.root(), root)).not.toBe(0)
    index.set('a', digest(1))
    expect(Buffer.compare(index.root(), root)).toBe(0)
    index.set('c', digest(3))
    index.set('c', null)
    expect(Buffer.compare(index.root(), root)).toBe(0)
    expect(index.size).toBe(2)
    expect(index.digestOf('c')).toBeNull()
  })

  it('a remote bucket list of the wrong length differs everywhere; each document has one stable bucket', () => {
    expect(new DigestIndex().differingBuckets(new Uint8Array(3))).toHaveLength(BUCKETS)
    for (const name of ['a', 'doc/1', 'é']) {
      const bucket = DigestIndex.bucketOf(name)
      expect(bucket).toBe(DigestIndex.bucketOf(name))
      expect(bucket >= 0 && bucket < BUCKETS).toBe(true)
    }
  })

  it('dirty names are taken once', () => {
    const index = new DigestIndex()
    index.markDirty('a')
    index.markDirty('b')
    index.markDirty('a')
    expect(index.dirtyCount).toBe(2)
    expect(index.takeDirty().sort()).toEqual(['a', 'b'])
    expect(index.takeDirty()).toEqual([])
  })

  it('docDigest: none for an empty document; equal for replicas with the same content and deletes', () => {
    const a = new Y.Doc()
    expect(docDigest(a)).toBeNull()
    a.getText('t').insert(0, 'abc')
    const b = new Y.Doc()
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    expect(Buffer.compare(docDigest(a) ?? new Uint8Array(), docDigest(b) ?? new Uint8Array())).toBe(0)
    a.getText('t').delete(0, 1)
    expect(Buffer.compare(docDigest(a) ?? new Uint8Array(), docDigest(b) ?? new Uint8Array())).not.toBe(0)
  })
})
