import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage, tryDecodeMessage } from './codec.js'
import { isProtocolError, ProtocolError } from './errors.js'
import type { Message } from './message.js'

// Any Unicode scalar value, 1- to 4-byte UTF-8 alike (fast-check's unit 'binary' costs ~1 s to set up).
const codePoint = fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xffff }), fc.integer({ min: 0x10000, max: 0x10ffff }))
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => String.fromCodePoint(c))

// Strings: well-formed unicode (lone surrogates cannot survive UTF-8 and are
// replaced by the encoder, see PROTOCOL.md), graphemes, and a leading BOM.
const str = fc.oneof(
  fc.string({ unit: codePoint, maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ maxLength: 10 }).map((s) => '\uFEFF' + s)
)
const varUint = fc.oneof(
  fc.nat(),
  fc.maxSafeNat(),
  fc.constantFrom(0, 127, 128, 16383, 16384, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER)
)
const bytes = fc.uint8Array({ maxLength: 300 })

const arbitraries = {
  'sync-step1': bytes.map((stateVector): Message => ({ type: 'sync-step1', stateVector })),
  'sync-step2': bytes.map((update): Message => ({ type: 'sync-step2', update })),
  'sync-update': bytes.map((update): Message => ({ type: 'sync-update', update })),
  awareness: bytes.map((update): Message => ({ type: 'awareness', update })),
  'auth-denied': str.map((reason): Message => ({ type: 'auth-denied', reason })),
  'query-awareness': fc.constant<Message>({ type: 'query-awareness' }),
  hello: fc.record({
    version: varUint,
    role: fc.constantFrom('client' as const, 'relay' as const),
    nodeId: str,
    region: str,
    features: varUint
  }).map((h): Message => ({ type: 'hello', ...h })),
  ack: varUint.map((upTo): Message => ({ type: 'ack', upTo })),
  error: fc.record({ code: str, message: str, fatal: fc.boolean() }).map((e): Message => ({ type: 'error', ...e })),
  'auth-token': str.map((token): Message => ({ type: 'auth-token', token })),
  'ds-digest': fc.record({ bounds: bytes, digest: fc.uint8Array({ minLength: 16, maxLength: 16 }), deletedClocks: varUint })
    .map((d): Message => ({ type: 'ds-digest', ...d })),
  'ds-reply': fc.oneof(
    fc.constant<Message>({ type: 'ds-reply', kind: 'match' }),
    bytes.map((update): Message => ({ type: 'ds-reply', kind: 'deletes', update })),
    bytes.map((update): Message => ({ type: 'ds-reply', kind: 'recent', update })),
    fc.record({ widthClocks: fc.integer({ min: 1, max: 2 ** 40 }), n: fc.nat(20) })
      .map(({ widthClocks, n }): Message => ({ type: 'ds-reply', kind: 'buckets', widthClocks, hashes: new Uint8Array(n * 8).fill(n) }))
  ),
  'ds-ranges': fc.record({ bounds: bytes, widthClocks: fc.integer({ min: 1, max: 2 ** 40 }), buckets: fc.uniqueArray(fc.nat(4095), { maxLength: 30 }) })
    .map((r): Message => ({ type: 'ds-ranges', ...r, buckets: [...r.buckets].sort((a, b) => a - b) }))
} satisfies Record<Message['type'], fc.Arbitrary<Message>>

describe('round trip', () => {
  for (const [type, arb] of Object.entries(arbitraries)) {
    it(`decodeMessage(encodeMessage(m)) equals m for ${type}`, () => {
      fc.assert(fc.property(arb, (msg) => {
        const decoded = decodeMessage(encodeMessage(msg))
        expect(decoded).toStrictEqual(msg)
      }), { numRuns: 300 })
    })
  }

  it('decoded payloads are copies, not views of the input', () => {
    const input = encodeMessage({ type: 'sync-update', update: new Uint8Array([1, 2, 3]) })
    const decoded = decodeMessage(input)
    input.fill(0)
    expect(decoded).toStrictEqual({ type: 'sync-update', update: new Uint8Array([1, 2, 3]) })
  })

  it('accepts a Node Buffer and returns plain Uint8Arrays', () => {
    const encoded = encodeMessage({ type: 'awareness', update: new Uint8Array([9, 8]) })
    const pooled = Buffer.concat([Buffer.from([7, 7]), Buffer.from(encoded)]).subarray(2)
    const decoded = decodeMessage(pooled)
    expect(decoded.type === 'awareness' && decoded.update.constructor).toBe(Uint8Array)
    expect(decoded).toStrictEqual({ type: 'awareness', update: new Uint8Array([9, 8]) })
  })
})

describe('exact bytes', () => {
  it.each<[Message, number[]]>([
    [{ type: 'sync-step1', stateVector: new Uint8Array([0]) }, [0, 0, 1, 0]],
    [{ type: 'sync-step2', update: new Uint8Array([0, 0]) }, [0, 1, 2, 0, 0]],
    [{ type: 'sync-update', update: new Uint8Array([]) }, [0, 2, 0]],
    [{ type: 'awareness', update: new Uint8Array([5]) }, [1, 1, 5]],
    [{ type: 'auth-denied', reason: 'no' }, [2, 0, 2, 0x6e, 0x6f]],
    [{ type: 'query-awareness' }, [3]],
    [{ type: 'ack', upTo: 300 }, [100, 1, 0xac, 0x02]],
    [{ type: 'error', code: 'E', message: '', fatal: true }, [100, 2, 1, 0x45, 0, 1]],
    [{ type: 'auth-token', token: 'a.b' }, [100, 3, 3, 0x61, 0x2e, 0x62]],
    [
      { type: 'hello', version: 1, role: 'client', nodeId: 'n', region: '', features: 1 },
      [100, 0, 1, 6, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 1, 0x6e, 0, 1]
    ]
  ])('%j', (msg, expected) => {
    expect(Array.from(encodeMessage(msg))).toEqual(expected)
    expect(decodeMessage(new Uint8Array(expected))).toStrictEqual(msg)
  })
})

const codeOf = (input: number[]): string | undefined => {
  const result = tryDecodeMessage(new Uint8Array(input))
  return result.ok ? undefined : result.error.code
}

describe('decode errors', () => {
  it('reports unknown types and subtypes', () => {
    expect(codeOf([4])).toBe('ERR_PROTOCOL_UNKNOWN_TYPE')
    expect(codeOf([99])).toBe('ERR_PROTOCOL_UNKNOWN_TYPE')
    expect(codeOf([0, 3, 0])).toBe('ERR_PROTOCOL_UNKNOWN_TYPE')
    expect(codeOf([2, 1, 0])).toBe('ERR_PROTOCOL_UNKNOWN_TYPE')
    expect(codeOf([100, 99])).toBe('ERR_PROTOCOL_UNKNOWN_TYPE')
  })

  it('reports trailing bytes on every message but hello', () => {
    expect(codeOf([0, 2, 1, 9, 0])).toBe('ERR_PROTOCOL_TRAILING_BYTES')
    expect(codeOf([1, 0, 0])).toBe('ERR_PROTOCOL_TRAILING_BYTES')
    expect(codeOf([2, 0, 0, 0])).toBe('ERR_PROTOCOL_TRAILING_BYTES')
    expect(codeOf([3, 0])).toBe('ERR_PROTOCOL_TRAILING_BYTES')
    expect(codeOf([100, 1, 5, 0])).toBe('ERR_PROTOCOL_TRAILING_BYTES')
    expect(codeOf([100, 2, 0, 0, 0, 0])).toBe('ERR_PROTOCOL_TRAILING_BYTES')
    expect(codeOf([100, 3, 0, 0])).toBe('ERR_PROTOCOL_TRAILING_BYTES')
  })

  it('reports truncation', () => {
    expect(codeOf([])).toBe('ERR_PROTOCOL_TRUNCATED')
    expect(codeOf([0])).toBe('ERR_PROTOCOL_TRUNCATED')
    expect(codeOf([0, 1, 3, 1, 2])).toBe('ERR_PROTOCOL_TRUNCATED')
    expect(codeOf([100, 1, 0x80])).toBe('ERR_PROTOCOL_TRUNCATED')
  })

  it('rejects input that is not a Uint8Array', () => {
    const notBytes = new ArrayBuffer(1) as unknown as Uint8Array
    expect(() => decodeMessage(notBytes)).toThrow(ProtocolError)
    const result = tryDecodeMessage('\u0003' as unknown as Uint8Array)
    expect(!result.ok && result.error.code).toBe('ERR_PROTOCOL_MALFORMED')
  })

  it('tryDecodeMessage returns the error instead of throwing', () => {
    const result = tryDecodeMessage(new Uint8Array([7]))
    expect(result.ok).toBe(false)
    if (!result.ok) {
      expect(isProtocolError(result.error)).toBe(true)
      expect(result.error.name).toBe('ProtocolError')
    }
    expect(tryDecodeMessage(new Uint8Array([3]))).toStrictEqual({ ok: true, message: { type: 'query-awareness' } })
  })
})

describe('encoder argument checks', () => {
  it('rejects values that would not survive the wire', () => {
    expect(() => encodeMessage({ type: 'ack', upTo: -1 })).toThrow(RangeError)
    expect(() => encodeMessage({ type: 'ack', upTo: 1.5 })).toThrow(RangeError)
    expect(() => encodeMessage({ type: 'ack', upTo: 2 ** 53 })).toThrow(RangeError)
    const hello = { type: 'hello', version: 1, role: 'peer', nodeId: '', region: '', features: 0 }
    expect(() => encodeMessage(hello as unknown as Message)).toThrow(TypeError)
    expect(() => encodeMessage({ type: 'nope' } as unknown as Message)).toThrow(TypeError)
    expect(() => encodeMessage({ type: 'sync-update', update: [1] } as unknown as Message)).toThrow(TypeError)
  })
})

describe('isProtocolError', () => {
  it('recognises errors from another copy of the package by shape', () => {
    const foreign = Object.assign(new Error('x'), { name: 'ProtocolError', code: 'ERR_PROTOCOL_MALFORMED' })
    expect(isProtocolError(foreign)).toBe(true)
    expect(isProtocolError(Object.assign(new Error('x'), { name: 'ProtocolError', code: 'ERR_OTHER' }))).toBe(false)
    expect(isProtocolError(new Error('x'))).toBe(false)
    expect(isProtocolError('ERR_PROTOCOL_MALFORMED')).toBe(false)
  })
})
