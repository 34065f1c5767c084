import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { AwarenessOwners } from './awareness-guard.js'

function stateOf(id: number, state: unknown, clock = 1): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = id
  const a = new awarenessProtocol.Awareness(doc)
  a.setLocalState(state as Record<string, unknown>)
  for (let i = 1; i < clock; i++) a.setLocalState(state as Record<string, unknown>)
  const update = awarenessProtocol.encodeAwarenessUpdate(a, [id])
  a.destroy()
  return update
}

describe('AwarenessOwners', () => {
  it('keeps the ids a connection introduced, refuses ids another holds, caps ids and state size', () => {
    const owners = new AwarenessOwners<object>()
    const alice = {}
    const mallory = {}
    const clock = (): number => 0
    expect(owners.filter(stateOf(1, { n: 'a' }), alice, 2, 1_000, clock).dropped).toBe(0)
    expect(owners.filter(stateOf(1, { n: 'm' }), mallory, 2, 1_000, clock)).toEqual({ update: null, dropped: 1 })
    expect(owners.filter(stateOf(2, { n: 'a2' }), alice, 2, 1_000, clock).dropped).toBe(0)
    expect(owners.filter(stateOf(3, { n: 'a3' }), alice, 2, 1_000, clock).dropped).toBe(1) // over the cap
    expect(owners.filter(stateOf(4, { blob: 'x'.repeat(2_000) }), mallory, 2, 1_000, clock).dropped).toBe(1) // too large
    expect(owners.countOf(alice)).toBe(2)
    expect(owners.release(alice).sort()).toEqual([1, 2])
    expect(owners.filter(stateOf(1, { n: 'm' }), mallory, 2, 1_000, clock).dropped).toBe(0) // free again
  })

  it('re-encodes with relay clocks, byte-compatible with y-protocols; throws on garbage', () => {
    const owners = new AwarenessOwners<object>()
    const me = {}
    const { update } = owners.filter(stateOf(7, { cursor: 3 }, 5), me, 4, 1_000, () => 41)
    const view = new awarenessProtocol.Awareness(new Y.Doc())
    awarenessProtocol.applyAwarenessUpdate(view, update as Uint8Array, 'relay')
    expect(view.getStates().get(7)).toEqual({ cursor: 3 })
    expect(view.meta.get(7)?.clock).toBe(42)
    expect(() => owners.filter(new Uint8Array([5, 1]), me, 4, 1_000, () => 0)).toThrow()
    expect(() => owners.filter(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), me, 4, 1_000, () => 0)).toThrow()
    view.destroy()
  })
})
