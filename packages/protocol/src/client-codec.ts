/**
 * The client's half of the codec: it writes only what a client sends and reads
 * only what a relay sends to a client, so a client bundle carries neither the
 * relay's writers nor the readers of relay-bound messages. The delete-digest
 * reply reader is passed in by whoever uses the exchange (`@meridian/client/digest`),
 * so it stays out of bundles that do not. Same bytes and the same total,
 * checked decoding as codec.ts for every message it handles.
 */
import type * as decoding from 'lib0/decoding'
import { readAuthMessage } from './auth.js'
import { readAwareness } from './awareness.js'
import type { DsReplyMessage } from './ds-digest.js'
import { ProtocolError, isProtocolError } from './errors.js'
import type { MuxMessage } from './mux.js'
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js'
import type { AwarenessMessage, HelloMessage, Message, SyncStep1Message, SyncStep2Message, SyncUpdateMessage } from './message.js'
import {
  MERIDIAN_ACK,
  MERIDIAN_AUTH,
  MERIDIAN_DS_DIGEST,
  MERIDIAN_DS_RANGES,
  MERIDIAN_DS_REPLY,
  MERIDIAN_ERROR,
  MERIDIAN_HELLO,
  MERIDIAN_REPLICATED,
  MERIDIAN_STATUS,
  MESSAGE_AUTH,
  MESSAGE_AWARENESS,
  MESSAGE_MERIDIAN,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_SYNC,
  SYNC_STEP1,
  SYNC_STEP2,
  SYNC_UPDATE
} from './message-types.js'
import { readAck, readError, readHello } from './meridian.js'
import { decoderOf, expectEnd, readVarUintSafe } from './safe-decoding.js'
import { readReplicated, readStatus } from './status.js'
import { readSyncMessage } from './sync.js'
import { checkBytes, checkString, checkVarUint } from './write-checks.js'
import { frame } from './frame.js'

/** What a client sends, besides the delete-digest exchange's messages (written by its own writers). */
export type ClientSentMessage = SyncStep1Message | SyncStep2Message | SyncUpdateMessage | AwarenessMessage | HelloMessage

const utf8 = new TextEncoder()

const bytesField = (bytes: Uint8Array, name: string): Uint8Array => {
  checkBytes(bytes, name)
  return bytes
}

const stringField = (value: string, name: string): Uint8Array => {
  checkString(value, name)
  return utf8.encode(value)
}

const uintField = (value: number, name: string): number => {
  checkVarUint(value, name)
  return value
}

/** Writes one client message; the same bytes as encodeMessage, and the same checks. */
export const encodeClientMessage = (msg: ClientSentMessage): Uint8Array => {
  switch (msg.type) {
    case 'sync-step1': return frame([MESSAGE_SYNC, SYNC_STEP1, bytesField(msg.stateVector, 'stateVector')])
    case 'sync-step2': return frame([MESSAGE_SYNC, SYNC_STEP2, bytesField(msg.update, 'update')])
    case 'sync-update': return frame([MESSAGE_SYNC, SYNC_UPDATE, bytesField(msg.update, 'update')])
    case 'awareness': return frame([MESSAGE_AWARENESS, bytesField(msg.update, 'update')])
    case 'hello':
      if (msg.role !== 'client' && msg.role !== 'relay') throw new TypeError(`hello.role must be 'client' or 'relay', got ${String(msg.role)}`)
      return frame([
        MESSAGE_MERIDIAN, MERIDIAN_HELLO, uintField(msg.version, 'hello.version'), utf8.encode(msg.role),
        stringField(msg.nodeId, 'hello.nodeId'), stringField(msg.region, 'hello.region'), uintField(msg.features, 'hello.features')
      ])
  }
}

/** Reads a ds-reply body (`readDsReply`), for clients that agreed FEATURE_DS_DIGEST. */
export type DsReplyReader = (decoder: decoding.Decoder, limits: DecodeLimits) => DsReplyMessage

/** What a single-document relay connection carries to a client: never a multiplexing message (those are `@meridian/client/multiplex`'s to read). */
export type RelayToClientMessage = Exclude<Message, MuxMessage>

/**
 * What a client receives. `null`: a well-framed Meridian message meant for a
 * relay (auth-token, ds-digest, ds-ranges) or a ds-reply without `readDsReply`,
 * skipped unread as a client that does not use it ignores it.
 */
export type ClientDecodeResult = { ok: true; message: RelayToClientMessage | null } | { ok: false; error: ProtocolError }

const readRelayMessage = (decoder: decoding.Decoder, limits: DecodeLimits, readDsReply: DsReplyReader | null): RelayToClientMessage | null => {
  const at = decoder.pos
  const type = readVarUintSafe(decoder)
  switch (type) {
    case MESSAGE_SYNC: return readSyncMessage(decoder, limits)
    case MESSAGE_AWARENESS: return readAwareness(decoder, limits)
    case MESSAGE_AUTH: return readAuthMessage(decoder, limits)
    case MESSAGE_QUERY_AWARENESS: return { type: 'query-awareness' }
    case MESSAGE_MERIDIAN: {
      const subAt = decoder.pos
      const subtype = readVarUintSafe(decoder)
      switch (subtype) {
        case MERIDIAN_HELLO: return readHello(decoder, limits)
        case MERIDIAN_ACK: return readAck(decoder)
        case MERIDIAN_ERROR: return readError(decoder, limits)
        case MERIDIAN_STATUS: return readStatus(decoder, limits)
        case MERIDIAN_REPLICATED: return readReplicated(decoder)
        case MERIDIAN_DS_REPLY:
          if (readDsReply !== null) return readDsReply(decoder, limits)
          decoder.pos = decoder.arr.length
          return null
        case MERIDIAN_AUTH:
        case MERIDIAN_DS_DIGEST:
        case MERIDIAN_DS_RANGES:
          decoder.pos = decoder.arr.length
          return null
        default:
          throw new ProtocolError('ERR_PROTOCOL_UNKNOWN_TYPE', `unknown meridian subtype ${subtype} at byte ${subAt}`)
      }
    }
    default:
      throw new ProtocolError('ERR_PROTOCOL_UNKNOWN_TYPE', `unknown message type ${type} at byte ${at}`)
  }
}

/**
 * tryDecodeMessage for what a relay sends a client (one WebSocket frame), with
 * the default limits. Never throws for bad input: the failure is in the result.
 */
export const tryDecodeRelayMessage = (bytes: Uint8Array, readDsReply: DsReplyReader | null): ClientDecodeResult => {
  try {
    if (bytes.length > DEFAULT_DECODE_LIMITS.maxMessageBytes) {
      throw new ProtocolError('ERR_PROTOCOL_OVERSIZED', `message has ${bytes.length} bytes, limit is ${DEFAULT_DECODE_LIMITS.maxMessageBytes}`)
    }
    const decoder = decoderOf(bytes)
    const message = readRelayMessage(decoder, DEFAULT_DECODE_LIMITS, readDsReply)
    expectEnd(decoder)
    return { ok: true, message }
  } catch (error) {
    // Anything else would be a bug in this package: let it surface.
    if (isProtocolError(error)) return { ok: false, error }
    throw error
  }
}
