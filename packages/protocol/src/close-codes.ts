// The codes a client acts on, each its own constant: a client bundle then carries these
// numbers, not the whole table (CLOSE_CODES below is made of them, so they cannot differ).
export const CLOSE_MESSAGE_TOO_BIG = 1009
export const CLOSE_CLIENT_RECONNECT = 4000
export const CLOSE_INVALID_UPDATE = 4400
export const CLOSE_INVALID_MESSAGE = 4401
export const CLOSE_FORBIDDEN = 4403
export const CLOSE_DOC_DELETED = 4404
export const CLOSE_UNAUTHENTICATED = 4410
export const CLOSE_TOKEN_EXPIRED = 4411
export const CLOSE_TOKEN_REVOKED = 4412
export const CLOSE_DOC_TOO_LARGE = 4413
export const CLOSE_ORIGIN_NOT_ALLOWED = 4415

/**
 * Every WebSocket close code Meridian uses, in one table (PROTOCOL.md, "Close
 * codes", gives each one's meaning). 1000-1015 are the standard codes;
 * 4000-4999 are application codes: 4000-4099 mean "reconnecting is fine",
 * 4400-4499 "do not retry this request unchanged", 4500-4599 a relay-side
 * failure, 4600-4699 the relay-to-relay mesh.
 */
export const CLOSE_CODES = {
  NORMAL: 1000,
  /** The relay is shutting down. */
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  /** A text frame: the protocol is binary only. */
  UNSUPPORTED_DATA: 1003,
  /** A frame larger than the relay's frame limit; nothing of it is applied. */
  MESSAGE_TOO_BIG: CLOSE_MESSAGE_TOO_BIG,
  /** The relay failed to commit an update to storage (the client resends it). */
  INTERNAL_ERROR: 1011,
  /** Too many connections, or too many messages before the document loaded: retry later. */
  TRY_AGAIN_LATER: 1013,
  /** Closed by the client to reconnect (connect timeout, send failure, the browser went offline). */
  CLIENT_RECONNECT: CLOSE_CLIENT_RECONNECT,
  /** No message (not even a pong counts) for `idleTimeoutMs`; reconnecting is fine. */
  IDLE_TIMEOUT: 4008,
  /** An update Yjs could not apply, or one that depends on changes the relay does not have. */
  INVALID_UPDATE: CLOSE_INVALID_UPDATE,
  /** An undecodable message, a malformed state vector, or an invalid document name. */
  INVALID_MESSAGE: CLOSE_INVALID_MESSAGE,
  /** The token is valid but grants nothing on this document. */
  FORBIDDEN: CLOSE_FORBIDDEN,
  /** The document was deleted (tombstoned): its name cannot be used again, so reconnecting cannot succeed. */
  DOC_DELETED: CLOSE_DOC_DELETED,
  /** Pre-auth budget (frames, bytes or seconds) spent without a valid auth message. */
  AUTH_TIMEOUT: 4408,
  /** No token, or one that does not verify (signature, format, algorithm, issuer, audience, not-before). */
  UNAUTHENTICATED: CLOSE_UNAUTHENTICATED,
  /** The token expired (at connect, or while connected). */
  TOKEN_EXPIRED: CLOSE_TOKEN_EXPIRED,
  /** The token was revoked (at connect, or while connected). */
  TOKEN_REVOKED: CLOSE_TOKEN_REVOKED,
  /** A write would make the document exceed `maxDocumentBytes`; nothing of it was applied. */
  DOC_TOO_LARGE: CLOSE_DOC_TOO_LARGE,
  /** The browser Origin is not in `allowedOrigins`. */
  ORIGIN_NOT_ALLOWED: CLOSE_ORIGIN_NOT_ALLOWED,
  /** The document's home region is unreachable from this relay: writes refused until it is back. */
  DOC_READ_ONLY: 4423,
  /** Message or byte rate far over the token bucket (more than a whole burst in debt). */
  RATE_LIMITED: 4429,
  /** The document could not be loaded from storage. */
  DOC_LOAD_FAILED: 4500
} as const

/** Close codes of relay-to-relay links (the mesh endpoint only). */
export const MESH_CLOSE_CODES = {
  /** An undecodable mesh message, or something other than the handshake first. */
  INVALID_MESSAGE: 4601,
  /** The link did not prove knowledge of the cluster secret, or claimed an identity it did not prove. */
  AUTH_FAILED: 4603,
  /** Nothing received in time: no handshake within `handshakeTimeoutMs`, or no message for `downAfterMs`. */
  SILENT: 4608,
  /** A second link to the same relay (the older one is kept), or a relay that dialed itself. */
  DUPLICATE_LINK: 4609
} as const

/**
 * Refusals a client cannot fix by reconnecting with the same credentials (or
 * at all: a deleted document): it
 * stops reconnecting and reports the relay's error code (PROTOCOL.md).
 */
export const FATAL_CLOSE_CODES: Readonly<Record<number, string>> = {
  [CLOSE_FORBIDDEN]: 'ERR_AUTH_FORBIDDEN',
  [CLOSE_UNAUTHENTICATED]: 'ERR_AUTH_INVALID',
  [CLOSE_TOKEN_EXPIRED]: 'ERR_AUTH_EXPIRED',
  [CLOSE_TOKEN_REVOKED]: 'ERR_AUTH_REVOKED',
  [CLOSE_ORIGIN_NOT_ALLOWED]: 'ERR_ORIGIN',
  [CLOSE_DOC_DELETED]: 'ERR_DOC_DELETED'
}
