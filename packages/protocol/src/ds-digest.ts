/**
 * FEATURE_DS_DIGEST messages (PROTOCOL.md, "Delete-set digest"):
 *
 *   ds-digest  varUint(100) varUint(6) varUint8Array(bounds) varUint8Array(digest)
 *              bounds: a state vector; per client the clock below which the
 *              digest covers the sender's deletes (the smaller of the two
 *              sides' state vectors). digest: 16 bytes, see delete-ranges.ts.
 *   ds-reply   varUint(100) varUint(7) varUint(0)                       digests matched
 *              varUint(100) varUint(7) varUint(1) varUint8Array(update) they did not: the
 *              relay's deletes below the bounds, as a Yjs update with no structs
 */
import * as encoding from 'lib0/encoding'
import type { Decoder } from 'lib0/decoding'
import { DS_DIGEST_BYTES } from './delete-ranges.js'
import { ProtocolError } from './errors.js'
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js'
import { MERIDIAN_DS_DIGEST, MERIDIAN_DS_REPLY, MESSAGE_MERIDIAN } from './message-types.js'
import { readVarUint8ArraySafe, readVarUintSafe } from './safe-decoding.js'
import { checkBytes } from './write-checks.js'

/** Client → relay: "below `bounds`, my deletes hash to `digest`". */
export interface DsDigestMessage { type: 'ds-digest'; bounds: Uint8Array; digest: Uint8Array }
/** Relay → client: `update` is null when the digests matched, else the relay's deletes below the bounds. */
export interface DsReplyMessage { type: 'ds-reply'; update: Uint8Array | null }

export const writeDsDigest = (encoder: encoding.Encoder, msg: Omit<DsDigestMessage, 'type'>): void => {
  checkBytes(msg.bounds, 'bounds')
  checkBytes(msg.digest, 'digest')
  if (msg.digest.length !== DS_DIGEST_BYTES) throw new RangeError(`digest must have ${DS_DIGEST_BYTES} bytes, got ${msg.digest.length}`)
  encoding.writeVarUint(encoder, MESSAGE_MERIDIAN)
  encoding.writeVarUint(encoder, MERIDIAN_DS_DIGEST)
  encoding.writeVarUint8Array(encoder, msg.bounds)
  encoding.writeVarUint8Array(encoder, msg.digest)
}

/** Reads the body after the type and subtype bytes. The bounds are not interpreted here (see decodeBounds). */
export const readDsDigest = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DsDigestMessage => {
  const bounds = readVarUint8ArraySafe(decoder, limits.maxMessageBytes)
  const at = decoder.pos
  const digest = readVarUint8ArraySafe(decoder, DS_DIGEST_BYTES)
  if (digest.length !== DS_DIGEST_BYTES) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `digest at byte ${at} must have ${DS_DIGEST_BYTES} bytes, got ${digest.length}`)
  }
  return { type: 'ds-digest', bounds, digest }
}

export const writeDsReply = (encoder: encoding.Encoder, msg: Omit<DsReplyMessage, 'type'>): void => {
  if (msg.update !== null) checkBytes(msg.update, 'update')
  encoding.writeVarUint(encoder, MESSAGE_MERIDIAN)
  encoding.writeVarUint(encoder, MERIDIAN_DS_REPLY)
  encoding.writeVarUint(encoder, msg.update === null ? 0 : 1)
  if (msg.update !== null) encoding.writeVarUint8Array(encoder, msg.update)
}

/** Reads the body after the type and subtype bytes. The flag must be 0 or 1: one encoding per value. */
export const readDsReply = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DsReplyMessage => {
  const at = decoder.pos
  const differ = readVarUintSafe(decoder)
  if (differ > 1) throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `ds-reply flag at byte ${at} must be 0 or 1, got ${differ}`)
  return { type: 'ds-reply', update: differ === 1 ? readVarUint8ArraySafe(decoder, limits.maxMessageBytes) : null }
}
