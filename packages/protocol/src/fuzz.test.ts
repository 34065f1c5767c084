// Decoder totality: whatever arrives, decodeMessage returns a Message or
// throws a ProtocolError with a known code. When it returns, the input was
// the canonical encoding of that message (HELLO: plus an ignored tail).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage } from './codec.js'
import { isProtocolError, type ProtocolErrorCode } from './errors.js'
import type { DecodeLimits } from './limits.js'
import type { Message } from './message.js'

// Any Unicode scalar value, 1- to 4-byte UTF-8 alike (fast-check's unit 'binary' costs ~1 s to set up).
const codePoint = fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xffff }), fc.integer({ min: 0x10000, max: 0x10ffff }))
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => String.fromCodePoint(c))

const CODES: ProtocolErrorCode[] = [
  'ERR_PROTOCOL_TRUNCATED',
  'ERR_PROTOCOL_MALFORMED',
  'ERR_PROTOCOL_OVERSIZED',
  'ERR_PROTOCOL_UNKNOWN_TYPE',
  'ERR_PROTOCOL_TRAILING_BYTES'
]
const RUNS = 2000

const checkTotal = (input: Uint8Array, limits?: Partial<DecodeLimits>): void => {
  let msg: Message
  try {
    msg = decodeMessage(input, limits)
  } catch (error) {
    if (!isProtocolError(error)) throw error
    expect(CODES).toContain(error.code)
    return
  }
  const again = encodeMessage(msg)
  if (msg.type === 'hello') {
    expect(input.subarray(0, again.length)).toEqual(again)
  } else {
    expect(again).toEqual(input)
  }
}

const str = fc.string({ unit: codePoint, maxLength: 12 })
const varUint = fc.oneof(fc.nat(300), fc.maxSafeNat())
const payload = fc.uint8Array({ maxLength: 40 })
const message: fc.Arbitrary<Message> = fc.oneof(
  payload.map((stateVector): Message => ({ type: 'sync-step1', stateVector })),
  payload.map((update): Message => ({ type: 'sync-step2', update })),
  payload.map((update): Message => ({ type: 'sync-update', update })),
  payload.map((update): Message => ({ type: 'awareness', update })),
  str.map((reason): Message => ({ type: 'auth-denied', reason })),
  fc.constant<Message>({ type: 'query-awareness' }),
  fc.record({ version: varUint, role: fc.constantFrom('client' as const, 'relay' as const), nodeId: str, region: str, features: varUint })
    .map((h): Message => ({ type: 'hello', ...h })),
  varUint.map((upTo): Message => ({ type: 'ack', upTo })),
  fc.record({ code: str, message: str, fatal: fc.boolean() }).map((e): Message => ({ type: 'error', ...e })),
  fc.record({ bounds: payload, digest: fc.uint8Array({ minLength: 16, maxLength: 16 }), deletedClocks: varUint }).map((d): Message => ({ type: 'ds-digest', ...d })),
  payload.map((update): Message => ({ type: 'ds-reply', kind: 'recent', update })),
  fc.constant<Message>({ type: 'ds-reply', kind: 'match' }),
  payload.map((update): Message => ({ type: 'ds-reply', kind: 'deletes', update })),
  fc.record({ widthClocks: fc.integer({ min: 1, max: 5000 }), n: fc.nat(4) })
    .map(({ widthClocks, n }): Message => ({ type: 'ds-reply', kind: 'buckets', widthClocks, hashes: new Uint8Array(8 * n) })),
  fc.record({ bounds: payload, widthClocks: fc.integer({ min: 1, max: 5000 }), buckets: fc.uniqueArray(fc.nat(4095), { maxLength: 6 }) })
    .map((r): Message => ({ type: 'ds-ranges', ...r, buckets: [...r.buckets].sort((a, b) => a - b) }))
)
const valid = message.map(encodeMessage)

/** Arbitrary varUint-looking bytes, including over-long, unsafe and non-minimal ones. */
const varUintBytes = fc.oneof(
  fc.maxSafeNat().map((n) => encodeMessage({ type: 'ack', upTo: n }).subarray(2)),
  fc.uint8Array({ minLength: 1, maxLength: 10 }).map((b) => b.map((x, i) => (i < b.length - 1 ? x | 0x80 : x)))
)

type Mutation = (input: Uint8Array) => Uint8Array
const at = (input: Uint8Array, i: number): number => (input.length === 0 ? 0 : i % (input.length + 1))
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let pos = 0
  for (const p of parts) { out.set(p, pos); pos += p.length }
  return out
}
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ i: fc.nat(), bit: fc.nat(7) }).map(({ i, bit }): Mutation => (input) => {
    const out = input.slice()
    if (out.length > 0) out[i % out.length]! ^= 1 << bit
    return out
  }),
  fc.nat().map((i): Mutation => (input) => input.slice(0, at(input, i))),
  fc.record({ i: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }).map(({ i, bytes }): Mutation => (input) =>
    concat(input.subarray(0, at(input, i)), bytes, input.subarray(at(input, i)))),
  fc.record({ i: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }).map(({ i, n }): Mutation => (input) =>
    concat(input.subarray(0, at(input, i)), input.subarray(at(input, i) + n))),
  // Length-prefix corruption: overwrite a varUint-sized span (often a prefix in these short messages) with another varUint.
  fc.record({ i: fc.nat(), n: fc.integer({ min: 1, max: 3 }), v: varUintBytes }).map(({ i, n, v }): Mutation => (input) =>
    concat(input.subarray(0, at(input, i)), v, input.subarray(at(input, i) + n)))
)

describe('decodeMessage is total', () => {
  it('on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (input) => checkTotal(input)), { numRuns: RUNS })
  })

  it('on random bodies behind every known type prefix', () => {
    const prefix = fc.constantFrom([0, 0], [0, 1], [0, 2], [0, 3], [1], [2, 0], [2, 1], [3], [100, 0], [100, 1], [100, 2], [100, 3])
    fc.assert(fc.property(prefix, fc.uint8Array({ maxLength: 48 }), (p, body) =>
      checkTotal(concat(new Uint8Array(p), body))), { numRuns: RUNS })
  })

  it('on mutated valid encodings', () => {
    fc.assert(fc.property(valid, fc.array(mutation, { minLength: 1, maxLength: 3 }), (input, mutations) => {
      checkTotal(mutations.reduce((bytes, mutate) => mutate(bytes), input))
    }), { numRuns: RUNS })
  })

  it('on mutated valid encodings under tight limits', () => {
    const limits = fc.record({ maxMessageBytes: fc.nat(64), maxStringBytes: fc.nat(16) })
    fc.assert(fc.property(valid, mutation, limits, (input, mutate, l) => checkTotal(mutate(input), l)), { numRuns: RUNS })
  })

  it('on corrupted length prefixes of payload messages', () => {
    const prefix = fc.constantFrom([0, 0], [0, 1], [0, 2], [1], [2, 0], [100, 2])
    fc.assert(fc.property(prefix, varUintBytes, fc.uint8Array({ maxLength: 32 }), (p, len, body) =>
      checkTotal(concat(new Uint8Array(p), len, body))), { numRuns: RUNS })
  })
})
