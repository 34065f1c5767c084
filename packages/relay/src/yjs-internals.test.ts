import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { hasPending, isWedged, pendingOf, setPending, structsOf } from './yjs-internals.js'

describe('the Yjs internals the relay relies on (shape)', () => {
  it('a doc has _transaction (null when idle) and _transactionCleanups (an array, empty when idle)', () => {
    const doc = new Y.Doc()
    const d = doc as unknown as { _transaction: unknown; _transactionCleanups: unknown }
    expect(d._transaction).toBeNull()
    expect(Array.isArray(d._transactionCleanups)).toBe(true)
    doc.getText('t').insert(0, 'x')
    expect(isWedged(doc)).toBe(false)
  })

  it('a transaction whose cleanup (its finally block) throws stays in _transactionCleanups, and no update event fires again', () => {
    const doc = new Y.Doc()
    let updates = 0
    doc.on('update', () => updates++)
    const throwing = (): void => {
      throw new Error('observer failed')
    }
    doc.on('afterTransactionCleanup', throwing)
    expect(() => doc.getText('t').insert(0, 'a')).toThrow('observer failed')
    doc.off('afterTransactionCleanup', throwing)
    expect(isWedged(doc)).toBe(true)
    const before = updates
    doc.getText('t').insert(0, 'b')
    expect(updates).toBe(before) // the wedge isWedged exists to detect
  })

  it('the struct store keeps pendingStructs/pendingDs and per-client struct arrays', () => {
    const doc = new Y.Doc()
    doc.clientID = 5
    doc.getText('t').insert(0, 'abc')
    expect(structsOf(doc, 5)?.[0]?.id).toEqual({ client: 5, clock: 0 })
    expect(structsOf(doc, 5)?.[0]?.length).toBe(3)
    expect(hasPending(doc)).toBe(false)
    const snapshot = pendingOf(doc)
    expect(snapshot).toEqual({ structs: null, ds: null })
    const other = new Y.Doc()
    other.clientID = 6
    Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
    const sv = Y.encodeStateVector(other)
    other.getText('t').insert(3, 'd')
    const fresh = new Y.Doc()
    Y.applyUpdate(fresh, Y.encodeStateAsUpdate(other, sv)) // depends on what `fresh` lacks
    expect(hasPending(fresh)).toBe(true)
    setPending(fresh, snapshot)
    expect(hasPending(fresh)).toBe(false)
  })
})
