import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isProtocolError } from './errors.js'
import { decoderOf, expectEnd, readVarStringSafe, readVarUint8ArraySafe, readVarUintSafe } from './safe-decoding.js'

// Any Unicode scalar value, 1- to 4-byte UTF-8 alike (fast-check's unit 'binary' costs ~1 s to set up).
const codePoint = fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xffff }), fc.integer({ min: 0x10000, max: 0x10ffff }))
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => String.fromCodePoint(c))

const dec = (bytes: number[]): decoding.Decoder => decoding.createDecoder(new Uint8Array(bytes))

/** Runs `read` and returns the ProtocolError code, checking the position did not move. */
const failure = (bytes: number[], read: (d: decoding.Decoder) => unknown): string => {
  const d = dec(bytes)
  try {
    read(d)
  } catch (e) {
    if (!isProtocolError(e)) throw e
    expect(d.pos).toBe(0)
    return e.code
  }
  throw new Error('expected a ProtocolError')
}

describe('readVarUintSafe', () => {
  it('reads what lib0 writes, for every safe integer', () => {
    fc.assert(fc.property(fc.maxSafeNat(), (n) => {
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, n)
      encoding.writeUint8(encoder, 0xff)
      const d = decoding.createDecoder(encoding.toUint8Array(encoder))
      expect(readVarUintSafe(d)).toBe(n)
      expect(d.pos).toBe(encoding.length(encoder) - 1)
    }))
  })

  it('handles the boundaries', () => {
    expect(readVarUintSafe(dec([0]))).toBe(0)
    expect(readVarUintSafe(dec([0x7f]))).toBe(127)
    expect(readVarUintSafe(dec([0x80, 0x01]))).toBe(128)
    // 2^53 - 1: seven full groups and 0x0f
    expect(readVarUintSafe(dec([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toBe(Number.MAX_SAFE_INTEGER)
  })

  it('rejects unsafe, over-long and non-minimal encodings as MALFORMED', () => {
    expect(failure([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10], readVarUintSafe)).toBe('ERR_PROTOCOL_MALFORMED') // 2^53
    expect(failure([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], readVarUintSafe)).toBe('ERR_PROTOCOL_MALFORMED')
    expect(failure([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], readVarUintSafe)).toBe('ERR_PROTOCOL_MALFORMED')
    expect(failure(new Array(100).fill(0xff), readVarUintSafe)).toBe('ERR_PROTOCOL_MALFORMED')
    expect(failure([0x80, 0x00], readVarUintSafe)).toBe('ERR_PROTOCOL_MALFORMED')
    expect(failure([0x81, 0x80, 0x00], readVarUintSafe)).toBe('ERR_PROTOCOL_MALFORMED')
  })

  it('reports end of input as TRUNCATED', () => {
    expect(failure([], readVarUintSafe)).toBe('ERR_PROTOCOL_TRUNCATED')
    expect(failure([0x80], readVarUintSafe)).toBe('ERR_PROTOCOL_TRUNCATED')
    expect(failure([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], readVarUintSafe)).toBe('ERR_PROTOCOL_TRUNCATED')
  })
})

describe('readVarUint8ArraySafe', () => {
  it('returns a plain copy and advances past it', () => {
    const input = Buffer.from([3, 1, 2, 3, 9])
    const d = decoding.createDecoder(input)
    const out = readVarUint8ArraySafe(d, 10)
    expect(out).toStrictEqual(new Uint8Array([1, 2, 3]))
    expect(out.buffer).not.toBe(input.buffer)
    expect(d.pos).toBe(4)
  })

  it('checks the length against the input before the limit', () => {
    expect(failure([5, 1, 2], (d) => readVarUint8ArraySafe(d, 1))).toBe('ERR_PROTOCOL_TRUNCATED')
    expect(failure([3, 1, 2, 3], (d) => readVarUint8ArraySafe(d, 2))).toBe('ERR_PROTOCOL_OVERSIZED')
    expect(readVarUint8ArraySafe(dec([2, 1, 2]), 2)).toStrictEqual(new Uint8Array([1, 2]))
  })
})

describe('readVarStringSafe', () => {
  it('reads what lib0 writes', () => {
    fc.assert(fc.property(fc.string({ unit: codePoint, maxLength: 100 }), (s) => {
      const bytes = encoding.encode((e) => encoding.writeVarString(e, s))
      expect(readVarStringSafe(decoding.createDecoder(bytes), 1 << 20)).toBe(s)
    }))
  })

  it('keeps a leading byte order mark', () => {
    expect(readVarStringSafe(dec([4, 0xef, 0xbb, 0xbf, 0x61]), 10)).toBe('\uFEFFa')
  })

  it('rejects invalid UTF-8 as MALFORMED', () => {
    const read = (d: decoding.Decoder): string => readVarStringSafe(d, 100)
    expect(failure([2, 0xc3, 0x28], read)).toBe('ERR_PROTOCOL_MALFORMED') // bad continuation
    expect(failure([2, 0xc0, 0x80], read)).toBe('ERR_PROTOCOL_MALFORMED') // overlong NUL
    expect(failure([3, 0xed, 0xa0, 0x80], read)).toBe('ERR_PROTOCOL_MALFORMED') // encoded surrogate
    expect(failure([1, 0xe2], read)).toBe('ERR_PROTOCOL_MALFORMED') // sequence cut by the length
    expect(failure([1, 0xff], read)).toBe('ERR_PROTOCOL_MALFORMED')
  })

  it('applies TRUNCATED and OVERSIZED like byte arrays', () => {
    expect(failure([9, 0x61], (d) => readVarStringSafe(d, 100))).toBe('ERR_PROTOCOL_TRUNCATED')
    expect(failure([2, 0x61, 0x62], (d) => readVarStringSafe(d, 1))).toBe('ERR_PROTOCOL_OVERSIZED')
  })
})

describe('expectEnd', () => {
  it('passes at the end and reports leftovers', () => {
    const d = dec([1, 2])
    d.pos = 2
    expect(() => expectEnd(d)).not.toThrow()
    d.pos = 1
    expect(failure([], () => expectEnd(d))).toBe('ERR_PROTOCOL_TRAILING_BYTES')
  })
})

describe('decoderOf (a lib0 Decoder without loading lib0/decoding)', () => {
  it('has the shape of lib0\'s Decoder, which lib0\'s readers and ours read alike', () => {
    const bytes = new Uint8Array([5, 3, 0x61, 0x62, 0x63])
    const real = decoding.createDecoder(bytes)
    // The shape decoderOf relies on: lib0's Decoder is exactly these two own fields.
    expect(Object.keys(real).sort()).toEqual(['arr', 'pos'])
    const ours = decoderOf(bytes)
    expect(Object.keys(ours).sort()).toEqual(['arr', 'pos'])
    expect(decoding.readVarUint(ours)).toBe(5)
    expect(readVarStringSafe(ours, 10)).toBe('abc')
    expect(() => expectEnd(ours)).not.toThrow()
  })
})
