/**
 * Bounds applied while decoding untrusted input, so a peer cannot make us
 * allocate more than it actually sent, or more than we are willing to hold.
 */
export interface DecodeLimits {
  /** Largest whole message accepted, in bytes (checked before anything is read). */
  maxMessageBytes: number
  /** Largest UTF-8 string field accepted, in bytes (reasons, node ids, error text). */
  maxStringBytes: number
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxMessageBytes: 16 * 1024 * 1024,
  maxStringBytes: 64 * 1024
})

/** Fills in defaults; an explicit `undefined` also means "default". */
export const resolveDecodeLimits = (limits?: Partial<DecodeLimits>): DecodeLimits => ({
  maxMessageBytes: limits?.maxMessageBytes ?? DEFAULT_DECODE_LIMITS.maxMessageBytes,
  maxStringBytes: limits?.maxStringBytes ?? DEFAULT_DECODE_LIMITS.maxStringBytes
})
