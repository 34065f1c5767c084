/**
 * MESSAGE_AWARENESS and MESSAGE_QUERY_AWARENESS, framed as y-websocket frames
 * them. The awareness update itself (y-protocols/awareness) is opaque here.
 *
 *   awareness        varUint(1) varUint8Array(awarenessUpdate)
 *   query-awareness  varUint(3)
 */
import * as encoding from 'lib0/encoding'
import type { Decoder } from 'lib0/decoding'
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js'
import type { AwarenessMessage, QueryAwarenessMessage } from './message.js'
import { MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS } from './message-types.js'
import { readVarUint8ArraySafe } from './safe-decoding.js'
import { checkBytes } from './write-checks.js'

export const writeAwareness = (encoder: encoding.Encoder, update: Uint8Array): void => {
  checkBytes(update, 'update')
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS)
  encoding.writeVarUint8Array(encoder, update)
}

/** Reads the body after the type byte. */
export const readAwareness = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): AwarenessMessage =>
  ({ type: 'awareness', update: readVarUint8ArraySafe(decoder, limits.maxMessageBytes) })

export const writeQueryAwareness = (encoder: encoding.Encoder): void => {
  encoding.writeVarUint(encoder, MESSAGE_QUERY_AWARENESS)
}

/** The message has no body; present for symmetry and so the dispatcher stays uniform. */
export const readQueryAwareness = (_decoder: Decoder): QueryAwarenessMessage => ({ type: 'query-awareness' })
