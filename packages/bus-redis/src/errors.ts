/** Every error the region bus raises: one family (defineErrors), stable codes. */
import { defineErrors, type CodedError } from '@meridian/base'

export const BUS_ERROR_CODES = {
  /** The bus was closed; the call did nothing. */
  ERR_BUS_CLOSED: 'the bus is closed',
  /** Not connected (or the publish failed); the message was not published. */
  ERR_BUS_UNAVAILABLE: 'the bus is not available',
  /** A bad argument or option. */
  ERR_BUS_INVALID_ARGUMENT: 'invalid bus argument'
} as const

export type BusErrorCode = keyof typeof BUS_ERROR_CODES

export const BusError = defineErrors('BusError', BUS_ERROR_CODES)
export type BusError = CodedError<BusErrorCode>

/** True for a BusError (optionally with one of `codes`), also one from another copy of the package. */
export const isBusError = (err: unknown, ...codes: BusErrorCode[]): err is BusError => BusError.is(err, ...codes)
