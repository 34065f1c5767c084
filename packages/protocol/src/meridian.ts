/**
 * MESSAGE_MERIDIAN: Meridian's extension messages. Sent only to peers that
 * announced the extension with HELLO, so stock y-websocket clients never see
 * them. See PROTOCOL.md for the handshake and ack semantics.
 *
 *   hello  varUint(100) varUint(0) varUint(version) varString(role)
 *          varString(nodeId) varString(region) varUint(features) [ignored tail]
 *   ack    varUint(100) varUint(1) varUint(upTo)
 *   error  varUint(100) varUint(2) varString(code) varString(message) varUint(fatal ? 1 : 0)
 *   auth   varUint(100) varUint(3) varString(token)
 */
import * as encoding from 'lib0/encoding'
import type { Decoder } from 'lib0/decoding'
import { ProtocolError, isProtocolError } from './errors.js'
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js'
import { readReplicated, readStatus, type ReplicatedMessage, type StatusMessage } from './status.js'
import { readDsDigest, readDsRanges, readDsReply, type DsDigestMessage, type DsRangesMessage, type DsReplyMessage } from './ds-digest.js'
import { readBatch, readDocClose, readDocClosed, readDocFrame, readDocOpen, type MuxMessage } from './mux.js'
import type { AckMessage, AuthTokenMessage, ErrorFields, ErrorMessage, HelloFields, HelloMessage, HelloRole } from './message.js'
import {
  MERIDIAN_ACK,
  MERIDIAN_AUTH,
  MERIDIAN_BATCH,
  MERIDIAN_DOC_CLOSE,
  MERIDIAN_DOC_CLOSED,
  MERIDIAN_DOC_FRAME,
  MERIDIAN_DOC_OPEN,
  MERIDIAN_DS_DIGEST,
  MERIDIAN_DS_RANGES,
  MERIDIAN_DS_REPLY,
  MERIDIAN_ERROR,
  MERIDIAN_HELLO,
  MERIDIAN_REPLICATED,
  MERIDIAN_STATUS,
  MESSAGE_MERIDIAN
} from './message-types.js'
import { readVarStringSafe, readVarUintSafe } from './safe-decoding.js'
import { checkString, checkVarUint } from './write-checks.js'

const isRole = (role: unknown): role is HelloRole => role === 'client' || role === 'relay'

/** Roles are short known words, so the role field has its own small cap rather than maxStringBytes. */
const MAX_ROLE_BYTES = 16

const writeHeader = (encoder: encoding.Encoder, subtype: number): void => {
  encoding.writeVarUint(encoder, MESSAGE_MERIDIAN)
  encoding.writeVarUint(encoder, subtype)
}

export const writeHello = (encoder: encoding.Encoder, hello: HelloFields): void => {
  checkVarUint(hello.version, 'hello.version')
  if (!isRole(hello.role)) throw new TypeError(`hello.role must be 'client' or 'relay', got ${String(hello.role)}`)
  checkString(hello.nodeId, 'hello.nodeId')
  checkString(hello.region, 'hello.region')
  checkVarUint(hello.features, 'hello.features')
  writeHeader(encoder, MERIDIAN_HELLO)
  encoding.writeVarUint(encoder, hello.version)
  encoding.writeVarString(encoder, hello.role)
  encoding.writeVarString(encoder, hello.nodeId)
  encoding.writeVarString(encoder, hello.region)
  encoding.writeVarUint(encoder, hello.features)
}

/**
 * Reads the body after the type and subtype bytes, then skips whatever
 * follows the known fields up to the end of the input: a later protocol
 * version may append fields to HELLO, and an older peer must still be able
 * to read the ones it knows. So HELLO is the one message that never yields
 * ERR_PROTOCOL_TRAILING_BYTES. The input must therefore be exactly one
 * message (one WebSocket frame), as it always is here.
 */
export const readHello = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): HelloMessage => {
  const version = readVarUintSafe(decoder)
  const roleAt = decoder.pos
  let role: string
  try {
    role = readVarStringSafe(decoder, MAX_ROLE_BYTES)
  } catch (error) {
    // Too long to be any known role: that is a bad value, not a resource problem.
    if (!isProtocolError(error) || error.code !== 'ERR_PROTOCOL_OVERSIZED') throw error
    role = ''
  }
  if (!isRole(role)) {
    decoder.pos = roleAt
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `unknown hello role at byte ${roleAt}`)
  }
  const nodeId = readVarStringSafe(decoder, limits.maxStringBytes)
  const region = readVarStringSafe(decoder, limits.maxStringBytes)
  const features = readVarUintSafe(decoder)
  decoder.pos = decoder.arr.length
  return { type: 'hello', version, role, nodeId, region, features }
}

export const writeAck = (encoder: encoding.Encoder, upTo: number): void => {
  checkVarUint(upTo, 'upTo')
  writeHeader(encoder, MERIDIAN_ACK)
  encoding.writeVarUint(encoder, upTo)
}

/** Reads the body after the type and subtype bytes. */
export const readAck = (decoder: Decoder): AckMessage => ({ type: 'ack', upTo: readVarUintSafe(decoder) })

export const writeError = (encoder: encoding.Encoder, err: ErrorFields): void => {
  checkString(err.code, 'error.code')
  checkString(err.message, 'error.message')
  writeHeader(encoder, MERIDIAN_ERROR)
  encoding.writeVarString(encoder, err.code)
  encoding.writeVarString(encoder, err.message)
  encoding.writeVarUint(encoder, err.fatal ? 1 : 0)
}

/** Reads the body after the type and subtype bytes. `fatal` must be 0 or 1: one encoding per value. */
export const readError = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): ErrorMessage => {
  const code = readVarStringSafe(decoder, limits.maxStringBytes)
  const message = readVarStringSafe(decoder, limits.maxStringBytes)
  const fatalAt = decoder.pos
  const fatal = readVarUintSafe(decoder)
  if (fatal > 1) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `error.fatal at byte ${fatalAt} must be 0 or 1, got ${fatal}`)
  }
  return { type: 'error', code, message, fatal: fatal === 1 }
}

export const writeAuthToken = (encoder: encoding.Encoder, token: string): void => {
  checkString(token, 'token')
  writeHeader(encoder, MERIDIAN_AUTH)
  encoding.writeVarString(encoder, token)
}

/** Reads the body after the type and subtype bytes. The token is a string field: capped at maxStringBytes. */
export const readAuthToken = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): AuthTokenMessage =>
  ({ type: 'auth-token', token: readVarStringSafe(decoder, limits.maxStringBytes) })

/** Reads the subtype (after the top-level type) and the body. */
export const readMeridianMessage = (
  decoder: Decoder,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS
): HelloMessage | AckMessage | ErrorMessage | AuthTokenMessage | StatusMessage | ReplicatedMessage | DsDigestMessage | DsReplyMessage | DsRangesMessage | MuxMessage => {
  const at = decoder.pos
  const subtype = readVarUintSafe(decoder)
  switch (subtype) {
    case MERIDIAN_HELLO: return readHello(decoder, limits)
    case MERIDIAN_ACK: return readAck(decoder)
    case MERIDIAN_ERROR: return readError(decoder, limits)
    case MERIDIAN_AUTH: return readAuthToken(decoder, limits)
    case MERIDIAN_STATUS: return readStatus(decoder, limits)
    case MERIDIAN_REPLICATED: return readReplicated(decoder)
    case MERIDIAN_DS_DIGEST: return readDsDigest(decoder, limits)
    case MERIDIAN_DS_REPLY: return readDsReply(decoder, limits)
    case MERIDIAN_DS_RANGES: return readDsRanges(decoder, limits)
    case MERIDIAN_DOC_OPEN: return readDocOpen(decoder, limits)
    case MERIDIAN_DOC_CLOSE: return readDocClose(decoder)
    case MERIDIAN_DOC_CLOSED: return readDocClosed(decoder, limits)
    case MERIDIAN_DOC_FRAME: return readDocFrame(decoder, limits)
    case MERIDIAN_BATCH: return readBatch(decoder, limits)
    default:
      throw new ProtocolError('ERR_PROTOCOL_UNKNOWN_TYPE', `unknown meridian subtype ${subtype} at byte ${at}`)
  }
}
