/**
 * Every error the relay raises or reports to a client, with a stable code.
 * Codes are part of the public contract (clients and operators match on them);
 * messages are for humans and may change.
 */
export const RELAY_ERROR_CODES = {
  ERR_RELAY_OPTIONS: 'invalid relay options',
  ERR_RELAY_CLOSED: 'the relay is shutting down',
  ERR_DOC_NAME: 'invalid document name',
  ERR_DOC_LOAD: 'the document could not be loaded from storage',
  ERR_DOC_CORRUPT: 'a stored update of the document could not be applied',
  ERR_UPDATE_INVALID: 'the update could not be applied',
  ERR_STORAGE_WRITE: 'the update could not be committed to storage',
  ERR_PROTOCOL: 'the message could not be decoded',
  ERR_AWARENESS_INVALID: 'the awareness update could not be applied'
} as const

export type RelayErrorCode = keyof typeof RELAY_ERROR_CODES

export class RelayError extends Error {
  override readonly name = 'RelayError'
  readonly code: RelayErrorCode

  constructor(code: RelayErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail === undefined ? RELAY_ERROR_CODES[code] : `${RELAY_ERROR_CODES[code]}: ${detail}`, options)
    this.code = code
  }
}

export const isRelayError = (e: unknown): e is RelayError => e instanceof RelayError

/**
 * WebSocket close codes the relay uses. 4000-4999 are application codes;
 * clients treat 4400-4499 as "do not retry this request unchanged".
 */
export const CLOSE_CODES = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  DOC_LOAD_FAILED: 4500,
  INVALID_UPDATE: 4400,
  INVALID_MESSAGE: 4401
} as const
