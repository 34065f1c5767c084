import * as decoding from 'lib0/decoding'
import {
  DEFAULT_DECODE_LIMITS,
  MERIDIAN_BATCH,
  MERIDIAN_DOC_CLOSED,
  MERIDIAN_DOC_FRAME,
  MERIDIAN_ERROR,
  MERIDIAN_HELLO,
  MESSAGE_AUTH,
  MESSAGE_MERIDIAN,
  ProtocolError,
  expectEnd,
  isProtocolError,
  readAuthMessage,
  readBatch,
  readDocClosed,
  readDocFrame,
  readError,
  readHello,
  readVarUintSafe,
  type AuthDeniedMessage,
  type BatchMessage,
  type DocClosedMessage,
  type DocFrameMessage,
  type ErrorMessage,
  type HelloMessage
} from '@meridian/protocol'

/** What a relay sends on a multiplexed socket, outside the documents' frames. */
export type MuxIncoming = HelloMessage | ErrorMessage | AuthDeniedMessage | DocClosedMessage | DocFrameMessage | BatchMessage

export type MuxDecodeResult = { ok: true; message: MuxIncoming } | { ok: false; error: ProtocolError }

/**
 * Decodes one connection-level message from the relay (a frame, or one entry of
 * a batch). Anything else there — a sync or awareness message outside a
 * doc-frame, a client-to-relay message — is a protocol error, as the relay
 * treats ours. Never throws for bad input.
 */
export function decodeMuxIncoming(bytes: Uint8Array): MuxDecodeResult {
  try {
    const decoder = decoding.createDecoder(bytes)
    const message = readIncoming(decoder)
    expectEnd(decoder)
    return { ok: true, message }
  } catch (error) {
    if (isProtocolError(error)) return { ok: false, error }
    throw error
  }
}

function readIncoming(decoder: decoding.Decoder): MuxIncoming {
  const limits = DEFAULT_DECODE_LIMITS
  const type = readVarUintSafe(decoder)
  if (type === MESSAGE_AUTH) return readAuthMessage(decoder, limits)
  if (type !== MESSAGE_MERIDIAN) throw new ProtocolError('ERR_PROTOCOL_UNKNOWN_TYPE', `message type ${type} outside a doc-frame`)
  const subtype = readVarUintSafe(decoder)
  switch (subtype) {
    case MERIDIAN_HELLO: return readHello(decoder, limits)
    case MERIDIAN_ERROR: return readError(decoder, limits)
    case MERIDIAN_DOC_CLOSED: return readDocClosed(decoder, limits)
    case MERIDIAN_DOC_FRAME: return readDocFrame(decoder, limits)
    case MERIDIAN_BATCH: return readBatch(decoder, limits)
    default:
      throw new ProtocolError('ERR_PROTOCOL_UNKNOWN_TYPE', `meridian subtype ${subtype} outside a doc-frame`)
  }
}
