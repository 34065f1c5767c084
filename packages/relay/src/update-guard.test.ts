import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { inspectUpdate, SPLIT_COST_BYTES } from './update-guard.js'
import { verifySnapshot } from './stored-replay.js'
import { RelayError } from './errors.js'

const LIMITS = { maxNestingDepth: 16, maxDeleteSplits: 100 }

function nested(doc: Y.Doc, levels: number, into: Y.Map<unknown> = doc.getMap('root')): Y.Map<unknown> {
  let m = into
  for (let i = 0; i < levels; i++) {
    const child = new Y.Map<unknown>()
    m.set('c', child)
    m = child
  }
  return m
}

const codeOf = (fn: () => unknown): string | null => {
  try {
    fn()
    return null
  } catch (err) {
    return err instanceof RelayError ? err.code : 'other'
  }
}

describe('inspectUpdate', () => {
  it('measures nesting inside one update, across updates, and through origins (arrays, text)', () => {
    const src = new Y.Doc()
    const leaf = nested(src, 10)
    expect(inspectUpdate(new Y.Doc(), Y.encodeStateAsUpdate(src), LIMITS).depth).toBe(10)
    const target = new Y.Doc()
    Y.applyUpdate(target, Y.encodeStateAsUpdate(src))
    const sv = Y.encodeStateVector(src)
    const arr = new Y.Array<unknown>()
    leaf.set('arr', arr)
    arr.push(['a'])
    arr.push([new Y.Text('x')]) // placed by origin: the same depth as its sibling
    expect(inspectUpdate(target, Y.encodeStateAsUpdate(src, sv), LIMITS).depth).toBe(13) // the text's content, in the array, in the leaf
    nested(src, 10, leaf)
    expect(codeOf(() => inspectUpdate(target, Y.encodeStateAsUpdate(src, sv), LIMITS))).toBe('ERR_UPDATE_TOO_DEEP')
  })

  it('counts the items a delete set would split, and adds their cost to the growth', () => {
    const src = new Y.Doc()
    src.clientID = 3
    src.getText('t').insert(0, 'x'.repeat(100))
    const target = new Y.Doc()
    Y.applyUpdate(target, Y.encodeStateAsUpdate(src))
    const sv = Y.encodeStateVector(src)
    src.getText('t').delete(0, 100) // one range covering whole items: no split
    const all = Y.encodeStateAsUpdate(src, sv)
    expect(inspectUpdate(target, all, LIMITS)).toMatchObject({ splits: 0, growthBytes: all.length })
    const cut = new Y.Doc()
    Y.applyUpdate(cut, Y.encodeStateAsUpdate(target))
    const sv2 = Y.encodeStateVector(cut)
    cut.getText('t').delete(10, 5) // cuts the one item twice
    const two = Y.encodeStateAsUpdate(cut, sv2)
    expect(inspectUpdate(target, two, LIMITS)).toMatchObject({ splits: 2, growthBytes: two.length + 2 * SPLIT_COST_BYTES })
  })

  it('refuses a delete set splitting more than the limit, and garbage', () => {
    const src = new Y.Doc()
    src.clientID = 4
    src.getText('t').insert(0, 'x'.repeat(1000))
    const target = new Y.Doc()
    Y.applyUpdate(target, Y.encodeStateAsUpdate(src))
    const sv = Y.encodeStateVector(src)
    for (let i = 0; i < 60; i++) src.getText('t').delete(i + 1, 1)
    expect(codeOf(() => inspectUpdate(target, Y.encodeStateAsUpdate(src, sv), LIMITS))).toBe('ERR_UPDATE_TOO_COSTLY')
    expect(codeOf(() => inspectUpdate(target, new Uint8Array([5, 200, 1]), LIMITS))).toBe('ERR_UPDATE_INVALID')
  })
})

describe('verifySnapshot', () => {
  it('passes a snapshot that loads to the same state, refuses one that does not', () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'abc')
    const snapshot = Y.encodeStateAsUpdate(doc)
    expect(() => verifySnapshot('d', snapshot, Y.encodeStateVector(doc), LIMITS)).not.toThrow()
    doc.getText('t').insert(0, 'more')
    expect(codeOf(() => verifySnapshot('d', snapshot, Y.encodeStateVector(doc), LIMITS))).toBe('ERR_DOC_CORRUPT')
    expect(codeOf(() => verifySnapshot('d', snapshot.slice(0, 4), Y.encodeStateVector(doc), LIMITS))).toBe('ERR_DOC_CORRUPT')
  })
})
