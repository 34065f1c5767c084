import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { clearAwarenessCheckTimer, hasPending, leftPending, pendingOf, restorePending } from './yjs-internals.js'

/** An update from a second document that depends on a change the first never saw. */
function dependentUpdate(): Uint8Array {
  const source = new Y.Doc()
  source.getText('t').insert(0, 'a')
  const before = Y.encodeStateVector(source)
  source.getText('t').insert(1, 'b')
  return Y.encodeStateAsUpdate(source, before)
}

describe('the Yjs and y-protocols internals the relay relies on', () => {
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
})
