/**
 * MESSAGE_AUTH, as y-protocols/auth and y-websocket encode it. The only
 * subtype is permission denied, which the stock provider surfaces to the app.
 *
 *   auth-denied  varUint(2) varUint(0) varString(reason)
 */
import * as encoding from 'lib0/encoding'
import type { Decoder } from 'lib0/decoding'
import { ProtocolError } from './errors.js'
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js'
import type { AuthDeniedMessage } from './message.js'
import { AUTH_PERMISSION_DENIED, MESSAGE_AUTH } from './message-types.js'
import { readVarStringSafe, readVarUintSafe } from './safe-decoding.js'
import { checkString } from './write-checks.js'

export const writeAuthDenied = (encoder: encoding.Encoder, reason: string): void => {
  checkString(reason, 'reason')
  encoding.writeVarUint(encoder, MESSAGE_AUTH)
  encoding.writeVarUint(encoder, AUTH_PERMISSION_DENIED)
  encoding.writeVarString(encoder, reason)
}

/** Reads the body after the type and subtype bytes. */
export const readAuthDenied = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): AuthDeniedMessage =>
  ({ type: 'auth-denied', reason: readVarStringSafe(decoder, limits.maxStringBytes) })

/**
 * Reads the subtype (after the top-level type) and the body. y-protocols
 * silently ignores unknown auth subtypes; we report them, and the caller may
 * choose to ignore ERR_PROTOCOL_UNKNOWN_TYPE.
 */
export const readAuthMessage = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): AuthDeniedMessage => {
  const at = decoder.pos
  const subtype = readVarUintSafe(decoder)
  if (subtype !== AUTH_PERMISSION_DENIED) {
    throw new ProtocolError('ERR_PROTOCOL_UNKNOWN_TYPE', `unknown auth subtype ${subtype} at byte ${at}`)
  }
  return readAuthDenied(decoder, limits)
}
