/**
 * Argument checks for writers. lib0's writeVarUint silently writes garbage for
 * negative, fractional or unsafe numbers, and such a message would then fail
 * to decode on the other side, far from the bug. Fail at the caller instead.
 * These are programmer errors, so they throw TypeError/RangeError, not
 * ProtocolError (which is reserved for bad input).
 */

export const checkVarUint = (value: number, field: string): void => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${field} must be an integer in [0, Number.MAX_SAFE_INTEGER], got ${String(value)}`)
  }
}

export const checkBytes = (value: Uint8Array, field: string): void => {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${field} must be a Uint8Array`)
  }
}

export const checkString = (value: string, field: string): void => {
  if (typeof value !== 'string') {
    throw new TypeError(`${field} must be a string`)
  }
}
