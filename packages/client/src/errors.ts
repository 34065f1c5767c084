import { defineErrors } from '@meridian/base'

/**
 * Errors the SDK raises or emits, each with a stable code. The texts are short
 * (they ship in every app's bundle); each error's own message says the rest.
 */
export const MERIDIAN_ERROR_CODES = {
  ERR_OPTIONS: 'invalid options',
  ERR_DESTROYED: 'provider destroyed', // while the operation was pending
  ERR_NO_WEBSOCKET: 'no WebSocket', // pass `WebSocket` in Node < 22
  ERR_REMOTE_UPDATE: 'remote update not applicable', // Yjs could not apply what the relay (or a tab) sent
  ERR_PROTOCOL: 'undecodable relay message',
  ERR_RELAY: 'relay error', // see `relayCode`
  ERR_PERSISTENCE: 'local storage failed', // the document keeps working in memory
  ERR_TIMEOUT: 'timed out', // a wait given a timeoutMs
  ERR_READ_ONLY: 'read-only', // the home region is unreachable: the write is refused (held locally)
  ERR_WRITE_TOO_LARGE: 'write too large', // syncing stops until connect(), or held back with holdRefusedWrites; see `seq`, provider.dropWrite
  ERR_WRITE_REFUSED: 'write refused', // syncing stops until connect(), or held back with holdRefusedWrites; see `relayCode`, `seq`, provider.dropWrite
  ERR_STALENESS_UNACHIEVABLE: 'staleness bound unachievable', // a capability's maxStalenessMs is below what the relay can deliver; a warning, once per capability
  ERR_MULTIPLEX_UNSUPPORTED: 'relay lacks multiplexing' // @meridian/client/multiplex: the relay refused /_meridian/mux (an older relay)
} as const

export type MeridianErrorCode = keyof typeof MERIDIAN_ERROR_CODES

export interface MeridianErrorOptions {
  cause?: unknown
  relayCode?: string
  seq?: number
  bytes?: number
}

export class MeridianError extends defineErrors('MeridianError', MERIDIAN_ERROR_CODES) {
  /** For ERR_RELAY: the relay's own error code. */
  readonly relayCode: string | undefined
  /** For ERR_WRITE_TOO_LARGE and ERR_WRITE_REFUSED: the write's number (`provider.refusedWrites`, `provider.dropWrite(seq)`). */
  readonly seq: number | undefined
  /** For ERR_WRITE_TOO_LARGE: the write's size in bytes. */
  readonly bytes: number | undefined

  constructor(code: MeridianErrorCode, detail?: string, options?: MeridianErrorOptions) {
    super(code, detail, options)
    this.relayCode = options?.relayCode
    this.seq = options?.seq
    this.bytes = options?.bytes
  }
}

/** True for a MeridianError (optionally with one of `codes`), also one from another copy of the SDK. */
export const isMeridianError = (e: unknown, ...codes: MeridianErrorCode[]): e is MeridianError => MeridianError.is(e, ...codes)
