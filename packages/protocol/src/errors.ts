/**
 * The only exception type the decoders throw. A relay can therefore catch one
 * class, map `code` to a close reason, and know that anything else is a bug.
 */

export type ProtocolErrorCode =
  | 'ERR_PROTOCOL_TRUNCATED' // input ended inside a field
  | 'ERR_PROTOCOL_MALFORMED' // a field's bytes are not a valid value (bad varint, bad UTF-8, bad role, ...)
  | 'ERR_PROTOCOL_OVERSIZED' // message or field larger than the configured DecodeLimits
  | 'ERR_PROTOCOL_UNKNOWN_TYPE' // message type or subtype this version does not know
  | 'ERR_PROTOCOL_TRAILING_BYTES' // bytes left over after a complete message

const CODES: ReadonlySet<string> = new Set<ProtocolErrorCode>([
  'ERR_PROTOCOL_TRUNCATED',
  'ERR_PROTOCOL_MALFORMED',
  'ERR_PROTOCOL_OVERSIZED',
  'ERR_PROTOCOL_UNKNOWN_TYPE',
  'ERR_PROTOCOL_TRAILING_BYTES'
])

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
  readonly code: ProtocolErrorCode

  constructor (code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/**
 * `instanceof` alone fails when two copies of this package are loaded (e.g.
 * sources in tests, dist in an app), so fall back to the shape.
 */
export const isProtocolError = (e: unknown): e is ProtocolError => {
  if (e instanceof ProtocolError) return true
  if (!(e instanceof Error) || e.name !== 'ProtocolError') return false
  const code: unknown = (e as { code?: unknown }).code
  return typeof code === 'string' && CODES.has(code)
}
