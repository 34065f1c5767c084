// Byte compatibility with y-protocols / y-websocket: the stock WebsocketProvider
// must be able to talk to a relay built on this package, and vice versa.
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as authProtocol from 'y-protocols/auth'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { decodeMessage, encodeMessage } from './codec.js'
import { encodeSyncStep1FromDoc, encodeSyncStep2FromDoc } from './doc-sync.js'
import { MESSAGE_AUTH, MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC } from './message-types.js'

// Any Unicode scalar value, 1- to 4-byte UTF-8 alike (fast-check's unit 'binary' costs ~1 s to set up).
const codePoint = fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xffff }), fc.integer({ min: 0x10000, max: 0x10ffff }))
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => String.fromCodePoint(c))

/** Builds a frame the way y-websocket does: its type byte, then y-protocols' writer. */
const yFrame = (type: number, write: (encoder: encoding.Encoder) => void = () => {}): Uint8Array => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, type)
  write(encoder)
  return encoding.toUint8Array(encoder)
}

const docWith = (text: string): Y.Doc => {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  doc.getMap('m').set('k', [1, 'two', { three: 3 }])
  return doc
}

describe('y-protocols byte compatibility', () => {
  it('sync-step1 equals syncProtocol.writeSyncStep1', () => {
    const doc = docWith('hello')
    const theirs = yFrame(MESSAGE_SYNC, (e) => syncProtocol.writeSyncStep1(e, doc))
    expect(encodeSyncStep1FromDoc(doc)).toEqual(theirs)
    expect(encodeMessage({ type: 'sync-step1', stateVector: Y.encodeStateVector(doc) })).toEqual(theirs)
    expect(decodeMessage(theirs)).toStrictEqual({ type: 'sync-step1', stateVector: Y.encodeStateVector(doc) })
  })

  it('sync-step2 equals syncProtocol.writeSyncStep2', () => {
    const doc = docWith('hello')
    const remote = docWith('other')
    const sv = Y.encodeStateVector(remote)
    const theirs = yFrame(MESSAGE_SYNC, (e) => syncProtocol.writeSyncStep2(e, doc, sv))
    expect(encodeSyncStep2FromDoc(doc, sv)).toEqual(theirs)
    expect(decodeMessage(theirs)).toStrictEqual({ type: 'sync-step2', update: Y.encodeStateAsUpdate(doc, sv) })
  })

  it('sync-update equals syncProtocol.writeUpdate', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (update) => {
      const theirs = yFrame(MESSAGE_SYNC, (e) => syncProtocol.writeUpdate(e, update))
      expect(encodeMessage({ type: 'sync-update', update })).toEqual(theirs)
      expect(decodeMessage(theirs)).toStrictEqual({ type: 'sync-update', update })
    }))
  })

  it('awareness equals y-websocket framing of an awareness update', () => {
    const doc = new Y.Doc()
    const awareness = new awarenessProtocol.Awareness(doc)
    awareness.setLocalState({ user: { name: 'Zoë', color: '#f00' } })
    const update = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])
    const theirs = yFrame(MESSAGE_AWARENESS, (e) => encoding.writeVarUint8Array(e, update))
    expect(encodeMessage({ type: 'awareness', update })).toEqual(theirs)

    const decoded = decodeMessage(theirs)
    expect(decoded).toStrictEqual({ type: 'awareness', update })
    const other = new awarenessProtocol.Awareness(new Y.Doc())
    if (decoded.type === 'awareness') awarenessProtocol.applyAwarenessUpdate(other, decoded.update, 'test')
    expect(other.getStates().get(doc.clientID)).toEqual({ user: { name: 'Zoë', color: '#f00' } })
    awareness.destroy()
    other.destroy()
  })

  it('auth-denied equals authProtocol.writePermissionDenied', () => {
    fc.assert(fc.property(fc.string({ unit: codePoint, maxLength: 50 }), (reason) => {
      const theirs = yFrame(MESSAGE_AUTH, (e) => authProtocol.writePermissionDenied(e, reason))
      expect(encodeMessage({ type: 'auth-denied', reason })).toEqual(theirs)
      expect(decodeMessage(theirs)).toStrictEqual({ type: 'auth-denied', reason })
    }))
  })

  it('auth-denied is read by authProtocol.readAuthMessage', () => {
    const decoder = decoding.createDecoder(encodeMessage({ type: 'auth-denied', reason: 'read-only document' }))
    expect(decoding.readVarUint(decoder)).toBe(MESSAGE_AUTH)
    let seen: string | undefined
    authProtocol.readAuthMessage(decoder, new Y.Doc(), (_y, reason) => { seen = reason })
    expect(seen).toBe('read-only document')
  })

  it('query-awareness equals y-websocket messageQueryAwareness', () => {
    const theirs = yFrame(MESSAGE_QUERY_AWARENESS)
    expect(encodeMessage({ type: 'query-awareness' })).toEqual(theirs)
    expect(decodeMessage(theirs)).toStrictEqual({ type: 'query-awareness' })
  })

  it('a y-protocols peer and a peer using this codec converge', () => {
    const ours = docWith('ours')
    const theirs = docWith('theirs')

    // They open with step 1, as the stock provider does; y-protocols answers our step 1.
    const fromThem = yFrame(MESSAGE_SYNC, (e) => syncProtocol.writeSyncStep1(e, theirs))
    const step1 = decodeMessage(fromThem)
    if (step1.type !== 'sync-step1') throw new Error('expected sync-step1')
    const ourStep2 = encodeSyncStep2FromDoc(ours, step1.stateVector)

    const decoder = decoding.createDecoder(encodeSyncStep1FromDoc(ours))
    expect(decoding.readVarUint(decoder)).toBe(MESSAGE_SYNC)
    const reply = encoding.createEncoder()
    encoding.writeVarUint(reply, MESSAGE_SYNC)
    syncProtocol.readSyncMessage(decoder, reply, theirs, 'test')
    const theirStep2 = decodeMessage(encoding.toUint8Array(reply))
    if (theirStep2.type !== 'sync-step2') throw new Error('expected sync-step2')
    Y.applyUpdate(ours, theirStep2.update)

    const d2 = decoding.createDecoder(ourStep2)
    decoding.readVarUint(d2)
    syncProtocol.readSyncMessage(d2, encoding.createEncoder(), theirs, 'test')

    expect(ours.getText('t').toString()).toBe(theirs.getText('t').toString())
    expect(Y.encodeStateVector(ours)).toEqual(Y.encodeStateVector(theirs))
  })
})
