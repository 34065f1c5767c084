export type BusErrorCode =
  /** The bus was closed; the call did nothing. */
  | 'ERR_BUS_CLOSED'
  /** Not connected (or the publish failed); the message was not published. */
  | 'ERR_BUS_UNAVAILABLE'
  /** A bad argument or option. */
  | 'ERR_BUS_INVALID_ARGUMENT'

export class BusError extends Error {
  readonly code: BusErrorCode

  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'BusError'
    this.code = code
  }
}

export function isBusError(err: unknown, code?: BusErrorCode): err is BusError {
  if (!(err instanceof Error) || err.name !== 'BusError') return false
  const actual = (err as { code?: unknown }).code
  return typeof actual === 'string' && actual.startsWith('ERR_BUS_') && (code === undefined || actual === code)
}
