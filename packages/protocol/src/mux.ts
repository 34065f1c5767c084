/**
 * Many documents over one socket (FEATURE_MULTIPLEX; PROTOCOL.md,
 * "Multiplexing"). The socket's path is `/_meridian/mux`; each document gets
 * a client-chosen `docId` and every message of the single-document protocol
 * travels inside a `doc-frame` for it, unchanged. A `batch` carries several
 * messages in one frame, so a reconnect is one handshake round for all documents.
 *
 *   doc-open    varUint(100) varUint(9)  varUint(docId) varString(docName)
 *   doc-close   varUint(100) varUint(10) varUint(docId)
 *   doc-closed  varUint(100) varUint(11) varUint(docId) varUint(closeCode) varString(reason)
 *   doc-frame   varUint(100) varUint(12) varUint(docId) varUint8Array(message)
 *   batch       varUint(100) varUint(13) varUint(count) count × varUint8Array(message)
 */
import type { Decoder } from 'lib0/decoding'
import { ProtocolError } from './errors.js'
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js'
import {
  MERIDIAN_BATCH,
  MERIDIAN_DOC_CLOSE,
  MERIDIAN_DOC_CLOSED,
  MERIDIAN_DOC_FRAME,
  MERIDIAN_DOC_OPEN,
  MESSAGE_MERIDIAN
} from './message-types.js'
import { frame } from './frame.js'
import { readVarStringSafe, readVarUint8ArraySafe, readVarUintSafe } from './safe-decoding.js'
import { checkBytes, checkString, checkVarUint } from './write-checks.js'

/** The WebSocket path of a multiplexed socket (a reserved path: never a document name). */
export const MUX_PATH = '/_meridian/mux'

/** Most messages in one `batch`: a client's larger batch is a protocol error (4401); senders split theirs. */
export const MAX_BATCH_ENTRIES = 4096

/** Client → relay: open `docName` as `docId` on this socket. */
export interface DocOpenMessage { type: 'doc-open'; docId: number; docName: string }
/** Client → relay: close `docId`; the relay answers `doc-closed`, after which the id may be used again. */
export interface DocCloseMessage { type: 'doc-close'; docId: number }
/**
 * Relay → client: `docId` is closed — refused, ended or closed on request — with
 * the close code and reason a single-document socket would have closed with.
 */
export interface DocClosedMessage { type: 'doc-closed'; docId: number; closeCode: number; reason: string }
/** Both ways: one single-document message (encoded, not decoded here) for `docId`. */
export interface DocFrameMessage { type: 'doc-frame'; docId: number; message: Uint8Array }
/** Both ways: several messages in one frame, handled in order as if each came alone. Never nested. */
export interface BatchMessage { type: 'batch'; messages: Uint8Array[] }

export type MuxMessage = DocOpenMessage | DocCloseMessage | DocClosedMessage | DocFrameMessage | BatchMessage

/** The encoded frame of one multiplexing message (no lib0 encoder: the client's mux entry uses it). */
export const encodeMuxMessage = (msg: MuxMessage): Uint8Array => {
  switch (msg.type) {
    case 'doc-open':
      checkVarUint(msg.docId, 'docId')
      checkString(msg.docName, 'docName')
      return frame([MESSAGE_MERIDIAN, MERIDIAN_DOC_OPEN, msg.docId, new TextEncoder().encode(msg.docName)])
    case 'doc-close':
      checkVarUint(msg.docId, 'docId')
      return frame([MESSAGE_MERIDIAN, MERIDIAN_DOC_CLOSE, msg.docId])
    case 'doc-closed':
      checkVarUint(msg.docId, 'docId')
      checkVarUint(msg.closeCode, 'closeCode')
      checkString(msg.reason, 'reason')
      return frame([MESSAGE_MERIDIAN, MERIDIAN_DOC_CLOSED, msg.docId, msg.closeCode, new TextEncoder().encode(msg.reason)])
    case 'doc-frame':
      checkVarUint(msg.docId, 'docId')
      checkBytes(msg.message, 'message')
      return frame([MESSAGE_MERIDIAN, MERIDIAN_DOC_FRAME, msg.docId, msg.message])
    case 'batch':
      for (const m of msg.messages) checkBytes(m, 'messages[]')
      return frame([MESSAGE_MERIDIAN, MERIDIAN_BATCH, msg.messages.length, ...msg.messages])
    default: {
      const unknown: never = msg
      throw new TypeError(`unknown mux message ${String((unknown as { type?: unknown }).type)}`)
    }
  }
}

/** Reads the body after the type and subtype bytes. */
export const readDocOpen = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DocOpenMessage =>
  ({ type: 'doc-open', docId: readVarUintSafe(decoder), docName: readVarStringSafe(decoder, limits.maxStringBytes) })

/** Reads the body after the type and subtype bytes. */
export const readDocClose = (decoder: Decoder): DocCloseMessage => ({ type: 'doc-close', docId: readVarUintSafe(decoder) })

/** Reads the body after the type and subtype bytes. */
export const readDocClosed = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DocClosedMessage => {
  const docId = readVarUintSafe(decoder)
  const closeCode = readVarUintSafe(decoder)
  return { type: 'doc-closed', docId, closeCode, reason: readVarStringSafe(decoder, limits.maxStringBytes) }
}

/** Reads the body after the type and subtype bytes. The inner message is copied, not decoded. */
export const readDocFrame = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DocFrameMessage => {
  const docId = readVarUintSafe(decoder)
  return { type: 'doc-frame', docId, message: readVarUint8ArraySafe(decoder, limits.maxMessageBytes) }
}

/**
 * Reads the body after the type and subtype bytes. Each message is at least
 * one byte, so `count` is bounded by the bytes left: a count the frame cannot
 * hold is MALFORMED before anything is allocated for it. A message that is
 * itself a batch is MALFORMED (batches do not nest).
 */
export const readBatch = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): BatchMessage => {
  const at = decoder.pos
  const count = readVarUintSafe(decoder)
  // Each entry is a length prefix and at least one byte.
  if (count * 2 > decoder.arr.length - decoder.pos) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `batch at byte ${at} announces ${count} messages, more than its bytes can hold`)
  }
  const messages: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const entryAt = decoder.pos
    const message = readVarUint8ArraySafe(decoder, limits.maxMessageBytes)
    if (message.length === 0) throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `empty batch entry at byte ${entryAt}`)
    if (message[0] === MESSAGE_MERIDIAN && message[1] === MERIDIAN_BATCH) {
      throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `nested batch at byte ${entryAt}`)
    }
    messages.push(message)
  }
  return { type: 'batch', messages }
}
