import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage, tryDecodeMessage } from './codec.js'
import { encodeMuxMessage, type MuxMessage } from './mux.js'
import { FEATURE_MULTIPLEX } from './message-types.js'

const sync1 = encodeMessage({ type: 'sync-step1', stateVector: new Uint8Array([0]) })

describe('multiplexing messages', () => {
  const cases: MuxMessage[] = [
    { type: 'doc-open', docId: 0, docName: 'notes/ä' },
    { type: 'doc-open', docId: 300, docName: 'a' },
    { type: 'doc-close', docId: 7 },
    { type: 'doc-closed', docId: 7, closeCode: 4403, reason: 'ERR_AUTH_FORBIDDEN' },
    { type: 'doc-closed', docId: 1, closeCode: 1000, reason: '' },
    { type: 'doc-frame', docId: 2, message: sync1 },
    { type: 'batch', messages: [] },
    { type: 'batch', messages: [encodeMuxMessage({ type: 'doc-open', docId: 1, docName: 'x' }), encodeMuxMessage({ type: 'doc-frame', docId: 1, message: sync1 })] }
  ]

  it.each(cases)('round-trips $type', (msg) => {
    const bytes = encodeMuxMessage(msg)
    expect(decodeMessage(bytes)).toEqual(msg)
    // encodeMessage (lib0 encoder) writes the same bytes.
    expect(encodeMessage(msg)).toEqual(bytes)
  })

  it('has the bytes PROTOCOL.md gives', () => {
    expect([...encodeMuxMessage({ type: 'doc-open', docId: 3, docName: 'ab' })]).toEqual([0x64, 0x09, 0x03, 0x02, 0x61, 0x62])
    expect([...encodeMuxMessage({ type: 'doc-frame', docId: 3, message: new Uint8Array([0x03]) })]).toEqual([0x64, 0x0c, 0x03, 0x01, 0x03])
    expect([...encodeMuxMessage({ type: 'doc-closed', docId: 3, closeCode: 4403, reason: '' })]).toEqual([0x64, 0x0b, 0x03, 0xb3, 0x22, 0x00])
    expect(FEATURE_MULTIPLEX).toBe(16)
  })

  it('refuses a nested batch, an empty entry and a count the frame cannot hold', () => {
    const inner = encodeMuxMessage({ type: 'batch', messages: [sync1] })
    const nested = tryDecodeMessage(encodeMuxMessage({ type: 'batch', messages: [inner] }))
    expect(nested.ok).toBe(false)
    if (!nested.ok) expect(nested.error.code).toBe('ERR_PROTOCOL_MALFORMED')
    const empty = tryDecodeMessage(new Uint8Array([0x64, 0x0d, 0x01, 0x00, 0x00]))
    expect(empty.ok).toBe(false)
    // 2^28 messages announced in a 7-byte frame: refused before any allocation.
    const huge = tryDecodeMessage(new Uint8Array([0x64, 0x0d, 0x80, 0x80, 0x80, 0x80, 0x01]))
    expect(huge.ok).toBe(false)
    if (!huge.ok) expect(huge.error.code).toBe('ERR_PROTOCOL_MALFORMED')
  })

  it('caps the inner message and the name by the decode limits', () => {
    const big = encodeMuxMessage({ type: 'doc-frame', docId: 1, message: new Uint8Array(100).fill(3) })
    const r = tryDecodeMessage(big, { maxMessageBytes: 50 })
    expect(r.ok).toBe(false)
    const name = tryDecodeMessage(encodeMuxMessage({ type: 'doc-open', docId: 1, docName: 'x'.repeat(40) }), { maxStringBytes: 10 })
    expect(name.ok).toBe(false)
    if (!name.ok) expect(name.error.code).toBe('ERR_PROTOCOL_OVERSIZED')
  })

  it('refuses trailing bytes and rejects bad fields on write', () => {
    const bytes = encodeMuxMessage({ type: 'doc-close', docId: 1 })
    expect(tryDecodeMessage(new Uint8Array([...bytes, 0])).ok).toBe(false)
    expect(() => encodeMuxMessage({ type: 'doc-close', docId: -1 })).toThrow(RangeError)
    expect(() => encodeMuxMessage({ type: 'doc-frame', docId: 1, message: 'x' as unknown as Uint8Array })).toThrow(TypeError)
  })
})
