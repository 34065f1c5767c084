import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { clearAwarenessCheckTimer, dropProviderListeners, findStructIndex, hasPending, isWedged, leftPending, pendingOf, restorePending, setPending, structsOf } from './yjs-internals.js'

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

  it('findIndexSS finds the struct holding a clock in a client\'s structs, and throws past the last', () => {
    const doc = new Y.Doc()
    doc.clientID = 7
    const text = doc.getText('t')
    text.insert(0, 'abc') // clocks 0-2
    text.insert(0, 'de') // clocks 3-4: a second struct (not merged: it precedes the first)
    const structs = structsOf(doc, 7)
    expect(structs?.length).toBe(2)
    if (structs === undefined) return
    const table: [clock: number, index: number][] = [[0, 0], [2, 0], [3, 1], [4, 1]]
    for (const [clock, index] of table) expect(findStructIndex(structs, clock), `clock ${clock}`).toBe(index)
    expect(() => findStructIndex(structs, 5)).toThrow()
  })
})

/** An update from a second document that depends on a change the first never saw. */
function dependentUpdate(): Uint8Array {
  const source = new Y.Doc()
  source.getText('t').insert(0, 'a')
  const before = Y.encodeStateVector(source)
  source.getText('t').insert(1, 'b')
  return Y.encodeStateAsUpdate(source, before)
}

describe('the y-protocols internals and the pending helpers', () => {
  it('the struct store has nullable pendingStructs and pendingDs, and restoring them drops what an update left pending', () => {
    const doc = new Y.Doc()
    expect(doc.store).toHaveProperty('pendingStructs', null)
    expect(doc.store).toHaveProperty('pendingDs', null)
    const before = pendingOf(doc)
    Y.applyUpdate(doc, dependentUpdate())
    expect(hasPending(doc)).toBe(true)
    expect(leftPending(doc, before)).toBe(true)
    restorePending(doc, before)
    expect(hasPending(doc)).toBe(false)
    // The document still works after the restore.
    doc.getText('t').insert(0, 'x')
    expect(doc.getText('t').toString()).toBe('x')
  })

  it('Awareness keeps its timeout timer in _checkInterval, and clearing it leaves the awareness usable', () => {
    const awareness = new Awareness(new Y.Doc())
    expect(awareness).toHaveProperty('_checkInterval')
    expect((awareness as unknown as { _checkInterval: unknown })._checkInterval).not.toBeNull()
    clearAwarenessCheckTimer(awareness)
    expect((awareness as unknown as { _checkInterval: unknown })._checkInterval).toBeNull()
    awareness.setLocalState({ name: 'a' })
    expect(awareness.getLocalState()).toEqual({ name: 'a' })
    awareness.destroy()
  })

  it('a new doc listens to its own load and sync events (lib0 _observers); without them it still emits updates and is destroyed', () => {
    const doc = new Y.Doc()
    const observers = (doc as unknown as { _observers: Map<string, Set<unknown>> })._observers
    expect([...observers.keys()].sort()).toEqual(['load', 'sync'])
    dropProviderListeners(doc)
    expect(observers.size).toBe(0)
    let updates = 0
    doc.on('update', () => updates++)
    doc.getText('t').insert(0, 'x')
    expect(updates).toBe(1)
    doc.emit('sync', [true]) // a provider's event: nobody listens any more
    expect(doc.isSynced).toBe(false)
    doc.destroy()
    expect(doc.isDestroyed).toBe(true)
  })
})
