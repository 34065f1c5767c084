/**
 * Whole-message encoding and decoding: the entry points the relay and client
 * use. decodeMessage is total: for any input it returns a Message or throws
 * a ProtocolError, never anything else, and never allocates more than the
 * input's own size.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { readAuthMessage, writeAuthDenied } from './auth.js'
import { readAwareness, readQueryAwareness, writeAwareness, writeQueryAwareness } from './awareness.js'
import { ProtocolError, isProtocolError } from './errors.js'
import { resolveDecodeLimits, type DecodeLimits, DEFAULT_DECODE_LIMITS } from './limits.js'
import type { Message } from './message.js'
import { MESSAGE_AUTH, MESSAGE_AWARENESS, MESSAGE_MERIDIAN, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC } from './message-types.js'
import { readMeridianMessage, writeAck, writeAuthToken, writeError, writeHello } from './meridian.js'
import { expectEnd, readVarUintSafe } from './safe-decoding.js'
import { readSyncMessage, writeSyncStep1, writeSyncStep2, writeSyncUpdate } from './sync.js'
import { writeReplicated, writeStatus } from './status.js'
import { writeDsDigest, writeDsRanges, writeDsReply } from './ds-digest.js'
import { encodeMuxMessage } from './mux.js'

/** Writes one complete message. Throws TypeError/RangeError on invalid fields (a caller bug). */
export const writeMessage = (encoder: encoding.Encoder, msg: Message): void => {
  switch (msg.type) {
    case 'sync-step1': return writeSyncStep1(encoder, msg.stateVector)
    case 'sync-step2': return writeSyncStep2(encoder, msg.update)
    case 'sync-update': return writeSyncUpdate(encoder, msg.update)
    case 'awareness': return writeAwareness(encoder, msg.update)
    case 'auth-denied': return writeAuthDenied(encoder, msg.reason)
    case 'query-awareness': return writeQueryAwareness(encoder)
    case 'hello': return writeHello(encoder, msg)
    case 'ack': return writeAck(encoder, msg.upTo)
    case 'error': return writeError(encoder, msg)
    case 'auth-token': return writeAuthToken(encoder, msg.token)
    case 'status': return writeStatus(encoder, msg)
    case 'replicated': return writeReplicated(encoder, msg.regions, msg.upTo)
    case 'ds-digest': return writeDsDigest(encoder, msg)
    case 'ds-reply': return writeDsReply(encoder, msg)
    case 'ds-ranges': return writeDsRanges(encoder, msg)
    case 'doc-open':
    case 'doc-close':
    case 'doc-closed':
    case 'doc-frame':
    case 'batch':
      return encoding.writeUint8Array(encoder, encodeMuxMessage(msg))
    default: {
      const unknown: never = msg
      throw new TypeError(`unknown message type ${String((unknown as { type?: unknown }).type)}`)
    }
  }
}

export const encodeMessage = (msg: Message): Uint8Array => {
  const encoder = encoding.createEncoder()
  writeMessage(encoder, msg)
  return encoding.toUint8Array(encoder)
}

/**
 * Reads one message (type byte onwards) from the decoder. Does not check for
 * trailing bytes or the whole-message size; decodeMessage does both.
 */
export const readMessage = (decoder: decoding.Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Message => {
  const at = decoder.pos
  const type = readVarUintSafe(decoder)
  switch (type) {
    case MESSAGE_SYNC: return readSyncMessage(decoder, limits)
    case MESSAGE_AWARENESS: return readAwareness(decoder, limits)
    case MESSAGE_AUTH: return readAuthMessage(decoder, limits)
    case MESSAGE_QUERY_AWARENESS: return readQueryAwareness(decoder)
    case MESSAGE_MERIDIAN: return readMeridianMessage(decoder, limits)
    default:
      throw new ProtocolError('ERR_PROTOCOL_UNKNOWN_TYPE', `unknown message type ${type} at byte ${at}`)
  }
}

/**
 * Decodes exactly one message (one WebSocket frame). Byte arrays in the
 * result are fresh copies, safe to keep after the input buffer is reused.
 */
export const decodeMessage = (bytes: Uint8Array, limits?: Partial<DecodeLimits>): Message => {
  // Typed as Uint8Array, but JS callers hand over ArrayBuffers and strings too.
  if (!(bytes instanceof Uint8Array)) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'message must be a Uint8Array')
  }
  const resolved = resolveDecodeLimits(limits)
  if (bytes.length > resolved.maxMessageBytes) {
    throw new ProtocolError('ERR_PROTOCOL_OVERSIZED', `message has ${bytes.length} bytes, limit is ${resolved.maxMessageBytes}`)
  }
  const decoder = decoding.createDecoder(bytes)
  const msg = readMessage(decoder, resolved)
  expectEnd(decoder)
  return msg
}

export type DecodeResult = { ok: true, message: Message } | { ok: false, error: ProtocolError }

/** decodeMessage without exceptions, for handlers that branch on failure. */
export const tryDecodeMessage = (bytes: Uint8Array, limits?: Partial<DecodeLimits>): DecodeResult => {
  try {
    return { ok: true, message: decodeMessage(bytes, limits) }
  } catch (error) {
    // Anything else would be a bug in this package: let it surface.
    if (isProtocolError(error)) return { ok: false, error }
    throw error
  }
}
