import { defineErrors } from '@meridian/base'

/** Errors the SDK raises or emits, each with a stable code. */
export const MERIDIAN_ERROR_CODES = {
  ERR_OPTIONS: 'invalid provider options',
  ERR_DESTROYED: 'the provider was destroyed while the operation was pending',
  ERR_NO_WEBSOCKET: 'no WebSocket implementation: pass `WebSocket` in Node < 22',
  ERR_REMOTE_UPDATE: 'the relay sent an update Yjs could not apply',
  ERR_PROTOCOL: 'the relay sent a message that could not be decoded',
  ERR_RELAY: 'the relay reported an error', // see `relayCode`
  ERR_PERSISTENCE: 'local storage failed', // the document keeps working in memory
  ERR_TIMEOUT: 'a wait given a timeoutMs did not complete in time',
  ERR_READ_ONLY: 'the document is read-only (its home region is unreachable): the write is refused',
  ERR_WRITE_TOO_LARGE: 'a local write is too large for the relay and is held back', // see `seq`, provider.dropWrite
  ERR_WRITE_REFUSED: 'the relay refuses a local write: it is held back', // see `relayCode`, `seq`, provider.dropWrite
  ERR_STALENESS_UNACHIEVABLE: "a capability's maxStalenessMs is below what the relay can deliver" // a warning, once per capability
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
