/**
 * The only exception type the decoders throw. A relay can therefore catch one
 * class, map `code` to a close reason, and know that anything else is a bug.
 */
import { defineErrors, type CodedError } from '@meridian/base'

export const PROTOCOL_ERROR_CODES = {
  ERR_PROTOCOL_TRUNCATED: 'input ended inside a field',
  ERR_PROTOCOL_MALFORMED: 'a field does not hold a valid value', // bad varint, bad UTF-8, bad role, ...
  ERR_PROTOCOL_OVERSIZED: 'message or field larger than the decode limits',
  ERR_PROTOCOL_UNKNOWN_TYPE: 'message type or subtype this version does not know',
  ERR_PROTOCOL_TRAILING_BYTES: 'bytes left over after a complete message'
} as const

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR_CODES

export const ProtocolError = defineErrors('ProtocolError', PROTOCOL_ERROR_CODES)
export type ProtocolError = CodedError<ProtocolErrorCode>

/** True for a ProtocolError, also one from another copy of this package (where `instanceof` fails). */
export const isProtocolError = (e: unknown, ...codes: ProtocolErrorCode[]): e is ProtocolError => ProtocolError.is(e, ...codes)
