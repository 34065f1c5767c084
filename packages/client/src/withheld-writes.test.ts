import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { captureUpdate } from '@meridian/testing'
import { RefusedWrites } from './withheld-writes.js'
import { deleteDigest } from './digest.js'

describe('RefusedWrites', () => {
  it('withholds a refused write (and only it) from a diff, before and after it included', () => {
    const doc = new Y.Doc()
    const before = captureUpdate(doc, () => doc.getMap('m').set('before', 1))
    const big = captureUpdate(doc, () => doc.getMap('m').set('big', 'x'.repeat(10_000)))
    const r = new RefusedWrites()
    expect(r.refuse(2, big, doc.clientID, 'frame-too-large')).toMatchObject({ seq: 2, reason: 'frame-too-large' })
    doc.clientID = 12345
    captureUpdate(doc, () => doc.getMap('m').set('after', 3))
    for (const digest of [null, deleteDigest]) {
      const diff = r.encodeDiff(doc, Y.encodeStateVector(new Y.Doc()), digest, () => [], () => [{ seq: 1, data: before }, { seq: 2, data: big }])
      expect(diff.byteLength).toBeLessThan(1_000)
      const peer = new Y.Doc()
      Y.applyUpdate(peer, diff)
      expect(peer.getMap('m').toJSON()).toEqual({ before: 1, after: 3 })
      expect(peer.store.pendingStructs).toBeNull()
    }
  })

  it('names the refused write a later one builds on, and releases both together', () => {
    const doc = new Y.Doc()
    const text = doc.getText('t')
    const big = captureUpdate(doc, () => text.insert(0, 'y'.repeat(5_000)))
    const r = new RefusedWrites()
    r.refuse(1, big, doc.clientID, 'frame-too-large')
    doc.clientID = 777
    const typed = captureUpdate(doc, () => text.insert(text.length, '!'))
    const deleted = captureUpdate(doc, () => text.delete(0, 1))
    const independent = captureUpdate(doc, () => doc.getMap('m').set('k', 1))
    expect(r.dependencyOf(typed)).toBe(1)
    expect(r.dependencyOf(deleted)).toBe(1)
    expect(r.dependencyOf(independent)).toBeNull()
    r.refuse(2, typed, 777, 'depends-on-refused', 1)
    expect(r.list().map((w) => w.seq)).toEqual([1, 2])
    expect(r.release(1).sort()).toEqual([1, 2])
    expect(r.size).toBe(0)
  })

  it('holds nothing for an update without structs of the client', () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'abc')
    const del = captureUpdate(doc, () => doc.getText('t').delete(0, 1))
    expect(new RefusedWrites().refuse(1, del, doc.clientID, 'relay-refused')).toBeNull()
  })
  it('withholds the deletes of a write refused for what it does (write-refused), held or dropped, with and without the digest', () => {
    const doc = new Y.Doc()
    const m = doc.getMap('m')
    const setup = captureUpdate(doc, () => doc.transact(() => {
      m.set('a', 1)
      m.set('b', 2)
      m.set('c', 3)
    }))
    const relay = new Y.Doc()
    Y.applyUpdate(relay, setup)
    const refused = captureUpdate(doc, () => m.delete('a'))
    const other = captureUpdate(doc, () => m.delete('b'))
    const r = new RefusedWrites()
    expect(r.refuse(2, refused, doc.clientID, 'write-refused')).toMatchObject({ seq: 2, reason: 'write-refused' })
    // A size refusal of a pure deletion holds nothing back (there is nothing large in it).
    expect(new RefusedWrites().refuse(2, refused, doc.clientID, 'relay-refused')).toBeNull()
    const seen = (diff: Uint8Array): unknown => {
      const copy = new Y.Doc()
      Y.applyUpdate(copy, setup)
      Y.applyUpdate(copy, diff)
      return copy.getMap('m').toJSON()
    }
    for (const dropped of [false, true]) {
      if (dropped) expect(r.release(2)).toEqual([2])
      for (const digest of [null, deleteDigest]) {
        const diff = r.encodeDiff(doc, Y.encodeStateVector(relay), digest, () => [deleteDigest.deletesOf(refused), deleteDigest.deletesOf(other)], () => [{ seq: 2, data: refused }, { seq: 3, data: other }])
        expect(seen(diff), `dropped ${dropped}, digest ${digest !== null}`).toEqual({ a: 1, c: 3 })
      }
      // What the digest exchange would send: the refused deletes are left out.
      expect(r.sendableDeletes(refused)).toBeNull()
      expect(seen(r.sendableDeletes(Y.mergeUpdates([refused, other])) ?? new Uint8Array([0, 0]))).toEqual({ a: 1, c: 3 })
    }
  })
})
