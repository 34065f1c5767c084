/**
 * FEATURE_DS_DIGEST messages (PROTOCOL.md, "Delete-set digest"):
 *
 *   ds-digest  varUint(100) varUint(6) varUint8Array(bounds) varUint8Array(digest) varUint(deletedClocks)
 *              bounds: a state vector; per client the clock below which the
 *              digest covers the sender's deletes (the smaller of the two
 *              sides' state vectors). digest: 16 bytes, see delete-ranges.ts.
 *              deletedClocks: how many clocks those deletes cover.
 *   ds-reply   varUint(100) varUint(7) varUint(0)                          match
 *              varUint(100) varUint(7) varUint(1) varUint8Array(update)    the relay's deletes (an update with no structs)
 *              varUint(100) varUint(7) varUint(2) varUint(width) varUint8Array(hashes)
 *                                                                          bucket hashes, 8 bytes per bucket
 *              varUint(100) varUint(7) varUint(3) varUint8Array(update)    exactly the deletes the client lacks
 *                                                                          (the relay checked: with them the digests match)
 *   ds-ranges  varUint(100) varUint(8) varUint8Array(bounds) varUint(width) varUint(n) n × varUint(gap)
 *              the buckets that differ: the first gap is the first index,
 *              each next one the distance to the previous index minus one
 */
import * as encoding from 'lib0/encoding'
import type { Decoder } from 'lib0/decoding'
import { DS_DIGEST_BYTES } from './delete-ranges.js'
import { ProtocolError } from './errors.js'
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js'
import { MERIDIAN_DS_DIGEST, MERIDIAN_DS_RANGES, MERIDIAN_DS_REPLY, MESSAGE_MERIDIAN } from './message-types.js'
import { readVarUint8ArraySafe, readVarUintSafe } from './safe-decoding.js'
import { checkBytes, checkVarUint } from './write-checks.js'

/** Most buckets one exchange may have (a peer deriving more from bounds and width refuses them). */
export const MAX_DS_BUCKETS = 4096
/** Bytes of one bucket's hash. */
export const DS_BUCKET_HASH_BYTES = 8

/** Client → relay: "below `bounds`, my deletes hash to `digest`". */
export interface DsDigestMessage { type: 'ds-digest'; bounds: Uint8Array; digest: Uint8Array; deletedClocks: number }

/** Relay → client: the digests matched; or the relay's deletes below the bounds; or its bucket hashes. */
export type DsReplyFields =
  | { kind: 'match' }
  | { kind: 'deletes'; update: Uint8Array }
  | { kind: 'buckets'; widthClocks: number; hashes: Uint8Array }
  | { kind: 'recent'; update: Uint8Array }
export type DsReplyMessage = { type: 'ds-reply' } & DsReplyFields

/** Client → relay: which buckets differ; the relay answers with its deletes in them. */
export interface DsRangesMessage { type: 'ds-ranges'; bounds: Uint8Array; widthClocks: number; buckets: number[] }

const writeHeader = (encoder: encoding.Encoder, subtype: number): void => {
  encoding.writeVarUint(encoder, MESSAGE_MERIDIAN)
  encoding.writeVarUint(encoder, subtype)
}

export const writeDsDigest = (encoder: encoding.Encoder, msg: Omit<DsDigestMessage, 'type'>): void => {
  checkBytes(msg.bounds, 'bounds')
  checkBytes(msg.digest, 'digest')
  if (msg.digest.length !== DS_DIGEST_BYTES) throw new RangeError(`digest must have ${DS_DIGEST_BYTES} bytes, got ${msg.digest.length}`)
  writeHeader(encoder, MERIDIAN_DS_DIGEST)
  checkVarUint(msg.deletedClocks, 'deletedClocks')
  encoding.writeVarUint8Array(encoder, msg.bounds)
  encoding.writeVarUint8Array(encoder, msg.digest)
  encoding.writeVarUint(encoder, msg.deletedClocks)
}

/** Reads the body after the type and subtype bytes. The bounds are not interpreted here (see decodeBounds). */
export const readDsDigest = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DsDigestMessage => {
  const bounds = readVarUint8ArraySafe(decoder, limits.maxMessageBytes)
  const at = decoder.pos
  const digest = readVarUint8ArraySafe(decoder, DS_DIGEST_BYTES)
  if (digest.length !== DS_DIGEST_BYTES) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `digest at byte ${at} must have ${DS_DIGEST_BYTES} bytes, got ${digest.length}`)
  }
  return { type: 'ds-digest', bounds, digest, deletedClocks: readVarUintSafe(decoder) }
}

const checkWidth = (width: number): void => {
  checkVarUint(width, 'widthClocks')
  if (width === 0) throw new RangeError('widthClocks must be at least 1')
}

export const writeDsReply = (encoder: encoding.Encoder, msg: DsReplyFields): void => {
  writeHeader(encoder, MERIDIAN_DS_REPLY)
  switch (msg.kind) {
    case 'match':
      encoding.writeVarUint(encoder, 0)
      return
    case 'deletes':
      checkBytes(msg.update, 'update')
      encoding.writeVarUint(encoder, 1)
      encoding.writeVarUint8Array(encoder, msg.update)
      return
    case 'recent':
      checkBytes(msg.update, 'update')
      encoding.writeVarUint(encoder, 3)
      encoding.writeVarUint8Array(encoder, msg.update)
      return
    case 'buckets':
      checkWidth(msg.widthClocks)
      checkBytes(msg.hashes, 'hashes')
      if (msg.hashes.length % DS_BUCKET_HASH_BYTES !== 0 || msg.hashes.length > MAX_DS_BUCKETS * DS_BUCKET_HASH_BYTES) {
        throw new RangeError(`hashes must be up to ${MAX_DS_BUCKETS} × ${DS_BUCKET_HASH_BYTES} bytes`)
      }
      encoding.writeVarUint(encoder, 2)
      encoding.writeVarUint(encoder, msg.widthClocks)
      encoding.writeVarUint8Array(encoder, msg.hashes)
  }
}

const readWidth = (decoder: Decoder): number => {
  const at = decoder.pos
  const width = readVarUintSafe(decoder)
  if (width === 0) throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `bucket width at byte ${at} must be at least 1`)
  return width
}

/** Reads the body after the type and subtype bytes. */
export const readDsReply = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DsReplyMessage => {
  const at = decoder.pos
  const kind = readVarUintSafe(decoder)
  switch (kind) {
    case 0: return { type: 'ds-reply', kind: 'match' }
    case 1: return { type: 'ds-reply', kind: 'deletes', update: readVarUint8ArraySafe(decoder, limits.maxMessageBytes) }
    case 2: {
      const widthClocks = readWidth(decoder)
      const hashesAt = decoder.pos
      const hashes = readVarUint8ArraySafe(decoder, MAX_DS_BUCKETS * DS_BUCKET_HASH_BYTES)
      if (hashes.length % DS_BUCKET_HASH_BYTES !== 0) {
        throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `bucket hashes at byte ${hashesAt} are not a multiple of ${DS_BUCKET_HASH_BYTES} bytes`)
      }
      return { type: 'ds-reply', kind: 'buckets', widthClocks, hashes }
    }
    case 3: return { type: 'ds-reply', kind: 'recent', update: readVarUint8ArraySafe(decoder, limits.maxMessageBytes) }
    default:
      throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `ds-reply kind at byte ${at} must be 0 to 3, got ${kind}`)
  }
}

export const writeDsRanges = (encoder: encoding.Encoder, msg: Omit<DsRangesMessage, 'type'>): void => {
  checkBytes(msg.bounds, 'bounds')
  checkWidth(msg.widthClocks)
  if (msg.buckets.length > MAX_DS_BUCKETS) throw new RangeError(`at most ${MAX_DS_BUCKETS} buckets`)
  writeHeader(encoder, MERIDIAN_DS_RANGES)
  encoding.writeVarUint8Array(encoder, msg.bounds)
  encoding.writeVarUint(encoder, msg.widthClocks)
  encoding.writeVarUint(encoder, msg.buckets.length)
  let prev = -1
  for (const index of msg.buckets) {
    checkVarUint(index, 'bucket')
    if (index <= prev) throw new RangeError('buckets must be strictly increasing')
    encoding.writeVarUint(encoder, index - prev - 1)
    prev = index
  }
}

/** Reads the body after the type and subtype bytes. Indices come out strictly increasing; checking them against the bounds is the reader's job. */
export const readDsRanges = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DsRangesMessage => {
  const bounds = readVarUint8ArraySafe(decoder, limits.maxMessageBytes)
  const widthClocks = readWidth(decoder)
  const countAt = decoder.pos
  const count = readVarUintSafe(decoder)
  if (count > MAX_DS_BUCKETS) throw new ProtocolError('ERR_PROTOCOL_OVERSIZED', `${count} buckets at byte ${countAt}, at most ${MAX_DS_BUCKETS}`)
  const buckets: number[] = []
  let prev = -1
  for (let i = 0; i < count; i++) {
    const at = decoder.pos
    const index = prev + 1 + readVarUintSafe(decoder)
    if (index >= MAX_DS_BUCKETS) throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `bucket index ${index} at byte ${at} is past ${MAX_DS_BUCKETS - 1}`)
    buckets.push(index)
    prev = index
  }
  return { type: 'ds-ranges', bounds, widthClocks, buckets }
}
