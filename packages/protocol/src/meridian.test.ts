import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage, tryDecodeMessage } from './codec.js'
import type { HelloMessage } from './message.js'
import { FEATURE_ACKS, MERIDIAN_ERROR, MERIDIAN_HELLO, MESSAGE_MERIDIAN, PROTOCOL_VERSION } from './message-types.js'

const hello: HelloMessage = {
  type: 'hello', version: PROTOCOL_VERSION, role: 'relay', nodeId: 'eu-1', region: 'eu', features: FEATURE_ACKS
}

const codeOf = (bytes: Uint8Array): string | undefined => {
  const result = tryDecodeMessage(bytes)
  return result.ok ? undefined : result.error.code
}

const concat = (a: Uint8Array, b: number[]): Uint8Array => new Uint8Array([...a, ...b])

describe('hello', () => {
  it('ignores fields appended by a later version', () => {
    expect(decodeMessage(concat(encodeMessage(hello), [1, 2, 3, 0xff, 0x80]))).toStrictEqual(hello)
  })

  it('still requires every known field', () => {
    const bytes = encodeMessage(hello)
    for (let cut = 2; cut < bytes.length; cut++) {
      expect(codeOf(bytes.subarray(0, cut))).toBe('ERR_PROTOCOL_TRUNCATED')
    }
  })

  it('rejects an unknown role as MALFORMED', () => {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, MESSAGE_MERIDIAN)
    encoding.writeVarUint(encoder, MERIDIAN_HELLO)
    encoding.writeVarUint(encoder, 1)
    encoding.writeVarString(encoder, 'Client')
    encoding.writeVarString(encoder, 'n')
    encoding.writeVarString(encoder, 'r')
    encoding.writeVarUint(encoder, 0)
    expect(codeOf(encoding.toUint8Array(encoder))).toBe('ERR_PROTOCOL_MALFORMED')
  })

  it('keeps feature bits it does not know', () => {
    const features = FEATURE_ACKS | 2 ** 40
    expect(decodeMessage(encodeMessage({ ...hello, features }))).toMatchObject({ features })
  })
})

describe('ack', () => {
  it('carries counts up to Number.MAX_SAFE_INTEGER', () => {
    expect(decodeMessage(encodeMessage({ type: 'ack', upTo: Number.MAX_SAFE_INTEGER })))
      .toStrictEqual({ type: 'ack', upTo: Number.MAX_SAFE_INTEGER })
  })
})

describe('error', () => {
  it('accepts only 0 or 1 for fatal', () => {
    const withFatal = (fatal: number): Uint8Array => {
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, MESSAGE_MERIDIAN)
      encoding.writeVarUint(encoder, MERIDIAN_ERROR)
      encoding.writeVarString(encoder, 'ERR_X')
      encoding.writeVarString(encoder, 'text')
      encoding.writeVarUint(encoder, fatal)
      return encoding.toUint8Array(encoder)
    }
    expect(decodeMessage(withFatal(0))).toStrictEqual({ type: 'error', code: 'ERR_X', message: 'text', fatal: false })
    expect(decodeMessage(withFatal(1))).toStrictEqual({ type: 'error', code: 'ERR_X', message: 'text', fatal: true })
    expect(codeOf(withFatal(2))).toBe('ERR_PROTOCOL_MALFORMED')
    expect(codeOf(withFatal(300))).toBe('ERR_PROTOCOL_MALFORMED')
  })
})

describe('hello role', () => {
  it('is MALFORMED when too long to be any role, even under generous limits', () => {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, MESSAGE_MERIDIAN)
    encoding.writeVarUint(encoder, MERIDIAN_HELLO)
    encoding.writeVarUint(encoder, 1)
    encoding.writeVarString(encoder, 'client'.repeat(100))
    encoding.writeVarString(encoder, 'n')
    encoding.writeVarString(encoder, 'r')
    encoding.writeVarUint(encoder, 0)
    expect(codeOf(encoding.toUint8Array(encoder))).toBe('ERR_PROTOCOL_MALFORMED')
  })
})

describe('auth-token', () => {
  it('caps the token at maxStringBytes and reads it as strict UTF-8', () => {
    const token = 'x'.repeat(100)
    const bytes = encodeMessage({ type: 'auth-token', token })
    expect(decodeMessage(bytes)).toStrictEqual({ type: 'auth-token', token })
    const limited = tryDecodeMessage(bytes, { maxStringBytes: 99 })
    expect(!limited.ok && limited.error.code).toBe('ERR_PROTOCOL_OVERSIZED')
    expect(codeOf(new Uint8Array([100, 3, 2, 0xc3, 0x28]))).toBe('ERR_PROTOCOL_MALFORMED')
    expect(codeOf(new Uint8Array([100, 3, 5, 0x61]))).toBe('ERR_PROTOCOL_TRUNCATED')
  })
})
