import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage, tryDecodeMessage } from './codec.js'
import { DEFAULT_DECODE_LIMITS, resolveDecodeLimits } from './limits.js'

const codeOf = (bytes: Uint8Array, limits?: Parameters<typeof decodeMessage>[1]): string | undefined => {
  const result = tryDecodeMessage(bytes, limits)
  return result.ok ? undefined : result.error.code
}

const GB = 1024 * 1024 * 1024

describe('limits', () => {
  it('a length prefix claiming 1 GB on a 10-byte input is TRUNCATED, without allocating', () => {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 0)
    encoding.writeVarUint(encoder, 2)
    encoding.writeVarUint(encoder, GB) // 5 bytes
    encoding.writeUint8Array(encoder, new Uint8Array(3))
    const bytes = encoding.toUint8Array(encoder)
    expect(bytes.length).toBe(10)

    const before = process.memoryUsage().arrayBuffers
    // Even with no limits at all, the claim is checked against the bytes present.
    const unlimited = { maxMessageBytes: Infinity, maxStringBytes: Infinity }
    expect(codeOf(bytes, unlimited)).toBe('ERR_PROTOCOL_TRUNCATED')
    expect(codeOf(bytes)).toBe('ERR_PROTOCOL_TRUNCATED')
    const asString = new Uint8Array([2, 0, 0x80, 0x80, 0x80, 0x80, 0x04, 0x61, 0x62, 0x63])
    expect(codeOf(asString, unlimited)).toBe('ERR_PROTOCOL_TRUNCATED')
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024)
  })

  it('a real 2 MB payload over maxMessageBytes = 1 MB is OVERSIZED', () => {
    const bytes = encodeMessage({ type: 'sync-update', update: new Uint8Array(2 * 1024 * 1024) })
    expect(codeOf(bytes, { maxMessageBytes: 1024 * 1024 })).toBe('ERR_PROTOCOL_OVERSIZED')
    expect(decodeMessage(bytes)).toMatchObject({ type: 'sync-update' })
  })

  it('the whole-message limit is inclusive', () => {
    const bytes = encodeMessage({ type: 'awareness', update: new Uint8Array(100) })
    expect(codeOf(bytes, { maxMessageBytes: bytes.length })).toBeUndefined()
    expect(codeOf(bytes, { maxMessageBytes: bytes.length - 1 })).toBe('ERR_PROTOCOL_OVERSIZED')
  })

  it('the whole-message limit is checked before reading, even for garbage', () => {
    expect(codeOf(new Uint8Array(11).fill(0xff), { maxMessageBytes: 10 })).toBe('ERR_PROTOCOL_OVERSIZED')
  })

  it('a string over maxStringBytes is OVERSIZED, in every string field', () => {
    const long = 'é'.repeat(DEFAULT_DECODE_LIMITS.maxStringBytes / 2 + 1) // 2 bytes each
    expect(codeOf(encodeMessage({ type: 'auth-denied', reason: long }))).toBe('ERR_PROTOCOL_OVERSIZED')
    expect(codeOf(encodeMessage({ type: 'auth-denied', reason: long.slice(1) }))).toBeUndefined()

    const limits = { maxStringBytes: 4 }
    const hello = { type: 'hello', version: 1, role: 'client', nodeId: 'abcd', region: 'eu', features: 1 } as const
    expect(codeOf(encodeMessage(hello), limits)).toBeUndefined()
    expect(codeOf(encodeMessage({ ...hello, nodeId: 'abcde' }), limits)).toBe('ERR_PROTOCOL_OVERSIZED')
    expect(codeOf(encodeMessage({ ...hello, region: 'europe' }), limits)).toBe('ERR_PROTOCOL_OVERSIZED')
    expect(codeOf(encodeMessage({ type: 'error', code: 'E_LONG', message: '', fatal: false }), limits)).toBe('ERR_PROTOCOL_OVERSIZED')
    expect(codeOf(encodeMessage({ type: 'error', code: '', message: 'too long', fatal: false }), limits)).toBe('ERR_PROTOCOL_OVERSIZED')
  })

  it('partial limits fall back to the defaults, explicit undefined included', () => {
    expect(resolveDecodeLimits()).toEqual(DEFAULT_DECODE_LIMITS)
    expect(resolveDecodeLimits({ maxStringBytes: 5, maxMessageBytes: undefined }))
      .toEqual({ maxMessageBytes: DEFAULT_DECODE_LIMITS.maxMessageBytes, maxStringBytes: 5 })
  })
})
