import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { MeridianError } from './errors.js'
import { Ledger } from './ledger.js'
import { manualClock } from './test-clock.test-helper.js'
import { Waiters } from './waiters.js'
import { HoldingWriteGate } from './holding-write-gate.js'

const MAX_FRAME_BYTES = 1_000

/** A doc whose local writes go through a gate, as the provider does it. */
function gated(): { doc: Y.Doc; gate: HoldingWriteGate; ledger: Ledger; errors: MeridianError[]; write: (fn: () => void) => boolean } {
  const doc = new Y.Doc()
  doc.clientID = 1
  const ledger = new Ledger(new Waiters(manualClock()))
  const errors: MeridianError[] = []
  let nextClient = 100
  // Holding never stops syncing: `stop` is never called.
  const gate = new HoldingWriteGate({
    doc, ledger, digest: null, maxFrameBytes: MAX_FRAME_BYTES, newClientId: () => nextClient++, onError: (e) => errors.push(e),
    stop: () => { throw new Error('the holding gate stopped syncing') }
  })
  let sent = true
  doc.on('update', (update: Uint8Array) => {
    sent = gate.admit(ledger.add(update, 0), doc.clientID)
  })
  return { doc, gate, ledger, errors, write: (fn) => (fn(), sent) }
}

describe('HoldingWriteGate (@meridian/client/refused-writes)', () => {
  it.each([
    { name: 'a small write', chars: 10, sent: true, refused: [], errors: 0 },
    { name: 'a write just under a frame', chars: MAX_FRAME_BYTES - 64, sent: true, refused: [], errors: 0 },
    { name: 'a write over a frame', chars: MAX_FRAME_BYTES * 2, sent: false, refused: ['frame-too-large'], errors: 1 }
  ])('$name: sent $sent', ({ chars, sent, refused, errors }) => {
    const g = gated()
    expect(g.write(() => g.doc.getText('t').insert(0, 'x'.repeat(chars)))).toBe(sent)
    expect(g.gate.refused.list().map((w) => w.reason)).toEqual(refused)
    expect(g.errors.map((e) => e.code)).toEqual(Array<string>(errors).fill('ERR_WRITE_TOO_LARGE'))
    expect(g.ledger.isHeld(1)).toBe(!sent)
  })

  it('holds a later write that builds on a refused one, not an independent one; a fresh client id after the refusal', () => {
    const g = gated()
    const text = g.doc.getText('t')
    g.write(() => text.insert(0, 'y'.repeat(MAX_FRAME_BYTES * 2)))
    expect(g.doc.clientID).toBe(100)
    expect(g.write(() => text.insert(5, 'q'))).toBe(false) // inserts inside the refused write
    expect(g.write(() => g.doc.getMap('m').set('k', 1))).toBe(true)
    expect(g.gate.refused.list().map((w) => [w.seq, w.reason, w.dependsOn])).toEqual([[1, 'frame-too-large', null], [2, 'depends-on-refused', 1]])
    expect(g.errors).toHaveLength(1)
  })

  it('drop deletes the refused content and releases it with what depends on it; the diff then carries everything', () => {
    const g = gated()
    const text = g.doc.getText('t')
    g.write(() => text.insert(0, 'z'.repeat(MAX_FRAME_BYTES * 2)))
    g.write(() => text.insert(0, 'a'))
    expect(g.gate.drop(1, () => g.ledger.highWaterMark)).toEqual(expect.arrayContaining([1]))
    expect(g.gate.refused.list()).toEqual([])
    const peer = new Y.Doc()
    Y.applyUpdate(peer, g.gate.encodeDiff(Y.encodeStateVector(peer), false))
    expect(peer.getText('t').toString()).toBe(text.toString())
    expect(() => g.gate.drop(1, () => 0)).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS' }) as Error)
  })

  it.each([
    { code: 1009, blamed: true },
    { code: 4413, blamed: true }
  ])('a relay refusal ($code) holds back the largest unacknowledged write', ({ code, blamed }) => {
    const g = gated()
    g.write(() => g.doc.getText('t').insert(0, 'small'))
    g.write(() => g.doc.getText('t').insert(0, 'b'.repeat(500)))
    expect(g.gate.relayRefused(code)).toBe(blamed)
    expect(g.gate.refused.list().map((w) => [w.seq, w.reason])).toEqual([[2, 'relay-refused']])
    expect(g.errors[0]?.message).toContain(String(code))
  })
  it('a 4400 close with a write-specific code holds back the unacknowledged writes that delete, once; other closes do not', () => {
    const g = gated()
    g.write(() => g.doc.getMap('m').set('a', 1))
    g.ledger.acknowledge(1)
    g.write(() => g.doc.getMap('m').delete('a'))
    g.write(() => g.doc.getMap('m').set('b', 2))
    g.gate.relayClosed(4400, 'ERR_UPDATE_INVALID')
    g.gate.relayClosed(1006, 'ERR_HISTORY_APPEND_ONLY')
    g.gate.relayClosed(null, '')
    expect(g.gate.refused.list()).toEqual([])
    expect(g.gate.relayClosed(4400, 'ERR_HISTORY_APPEND_ONLY')).toBeNull() // held back: syncing goes on
    expect(g.gate.list().map((w) => [w.seq, w.reason])).toEqual([[2, 'write-refused']])
    expect(g.errors.map((e) => [e.code, e.relayCode, e.seq])).toEqual([['ERR_WRITE_REFUSED', 'ERR_HISTORY_APPEND_ONLY', 2]])
    expect(g.ledger.isHeld(2)).toBe(true)
  })

  it('a write refusal no pending write explains withholds every delete the document holds then (one error)', () => {
    const g = gated()
    g.write(() => g.doc.getMap('m').set('a', 1))
    const relay = new Y.Doc()
    Y.applyUpdate(relay, Y.encodeStateAsUpdate(g.doc))
    g.write(() => g.doc.getMap('m').delete('a'))
    g.ledger.acknowledge(2) // e.g. dropped in an earlier session: only the local copy has it
    g.gate.relayClosed(4400, 'ERR_HISTORY_APPEND_ONLY')
    expect(g.gate.refused.list()).toEqual([])
    expect(g.errors.map((e) => [e.code, e.relayCode, e.seq])).toEqual([['ERR_WRITE_REFUSED', 'ERR_HISTORY_APPEND_ONLY', undefined]])
    g.write(() => g.doc.getMap('m').set('b', 2))
    Y.applyUpdate(relay, g.gate.encodeDiff(Y.encodeStateVector(relay), false))
    expect(relay.getMap('m').toJSON()).toEqual({ a: 1, b: 2 })
  })
})
