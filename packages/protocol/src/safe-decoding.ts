/**
 * Bounds-checked readers over a lib0 Decoder. lib0's own readers trust their
 * input: they throw plain Errors on truncation and will happily try to slice
 * a length prefix of 2^50. These check every bound first and throw nothing
 * but ProtocolError, so every decoder built from them is total.
 *
 * On failure the decoder's position is left where the failing field began.
 */
import type { Decoder } from 'lib0/decoding'
import { ProtocolError } from './errors.js'

/** 8 groups of 7 bits hold 56 bits: enough for 2^53 - 1, so a 9th byte is never needed. */
const MAX_VARUINT_BYTES = 8

// fatal: invalid UTF-8 must be an error, not silently become U+FFFD.
// ignoreBOM: a leading U+FEFF is content, and must survive a round trip.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Reads a lib0 varUint (7 bits per byte, least significant group first, high
 * bit set = more bytes follow). Stricter than lib0: the encoding must be the
 * shortest one (no trailing zero groups, which lib0 never writes) and the
 * value at most Number.MAX_SAFE_INTEGER, so each value has exactly one
 * encoding and never loses precision.
 */
export const readVarUintSafe = (decoder: Decoder): number => {
  const arr = decoder.arr
  const start = decoder.pos
  let num = 0
  let mult = 1
  for (let i = 0; i < MAX_VARUINT_BYTES; i++) {
    const byte = arr[start + i]
    if (byte === undefined) {
      throw new ProtocolError('ERR_PROTOCOL_TRUNCATED', `input ends inside a varUint starting at byte ${start}`)
    }
    num += (byte & 0x7f) * mult
    if (byte < 0x80) {
      if (byte === 0 && i > 0) {
        throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `varUint at byte ${start} is not minimally encoded`)
      }
      if (num > Number.MAX_SAFE_INTEGER) {
        throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `varUint at byte ${start} exceeds Number.MAX_SAFE_INTEGER`)
      }
      decoder.pos = start + i + 1
      return num
    }
    mult *= 128
  }
  throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `varUint at byte ${start} is longer than ${MAX_VARUINT_BYTES} bytes`)
}

/**
 * Reads a length prefix and checks it against the bytes actually present
 * (TRUNCATED) and then against `maxBytes` (OVERSIZED), before anything is
 * allocated. Returns the offset of the field's first content byte.
 */
const readLengthPrefix = (decoder: Decoder, maxBytes: number, what: string): { start: number, len: number } => {
  const fieldStart = decoder.pos
  const len = readVarUintSafe(decoder)
  const start = decoder.pos
  if (len > decoder.arr.length - start) {
    decoder.pos = fieldStart
    throw new ProtocolError(
      'ERR_PROTOCOL_TRUNCATED',
      `${what} at byte ${fieldStart} claims ${len} bytes but only ${decoder.arr.length - start} remain`
    )
  }
  if (len > maxBytes) {
    decoder.pos = fieldStart
    throw new ProtocolError('ERR_PROTOCOL_OVERSIZED', `${what} at byte ${fieldStart} has ${len} bytes, limit is ${maxBytes}`)
  }
  return { start, len }
}

/**
 * Reads a varUint8Array (varUint length, then that many bytes).
 *
 * Returns a fresh copy, never a view: the input is often a pooled network
 * buffer (Node's `ws` hands out slices of shared Buffers), and callers keep
 * payloads around (outboxes, storage queues). The copy is a plain Uint8Array
 * even when the input is a Node Buffer.
 */
export const readVarUint8ArraySafe = (decoder: Decoder, maxBytes: number): Uint8Array => {
  const { start, len } = readLengthPrefix(decoder, maxBytes, 'byte array')
  const out = new Uint8Array(len)
  out.set(decoder.arr.subarray(start, start + len))
  decoder.pos = start + len
  return out
}

/** Reads a varString (varUint byte length, then UTF-8). Invalid UTF-8 is MALFORMED. */
export const readVarStringSafe = (decoder: Decoder, maxBytes: number): string => {
  const fieldStart = decoder.pos
  const { start, len } = readLengthPrefix(decoder, maxBytes, 'string')
  let str: string
  try {
    str = utf8.decode(decoder.arr.subarray(start, start + len))
  } catch (cause) {
    decoder.pos = fieldStart
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `string at byte ${fieldStart} is not valid UTF-8`, { cause })
  }
  decoder.pos = start + len
  return str
}

/** Requires that the whole input has been consumed. */
export const expectEnd = (decoder: Decoder): void => {
  const left = decoder.arr.length - decoder.pos
  if (left !== 0) {
    throw new ProtocolError('ERR_PROTOCOL_TRAILING_BYTES', `${left} unexpected bytes after the message at byte ${decoder.pos}`)
  }
}

/**
 * A lib0 `Decoder` over `bytes`, made without loading `lib0/decoding`: its class is two
 * public fields, and that module's top-level error objects would otherwise ride in every
 * client bundle. safe-decoding.test.ts checks the class keeps that shape and lib0 reads this.
 */
export const decoderOf = (bytes: Uint8Array): Decoder => ({ arr: bytes, pos: 0 }) as Decoder
