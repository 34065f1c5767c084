/** Errors the SDK raises or emits, each with a stable code. */
export type MeridianErrorCode =
  | 'ERR_OPTIONS' // invalid provider options
  | 'ERR_DESTROYED' // the provider was destroyed while the operation was pending
  | 'ERR_NO_WEBSOCKET' // no WebSocket implementation: pass `WebSocket` in Node < 22
  | 'ERR_REMOTE_UPDATE' // the relay sent an update Yjs could not apply
  | 'ERR_PROTOCOL' // the relay sent a message that could not be decoded
  | 'ERR_RELAY' // the relay reported an error (see `relayCode`)
  | 'ERR_PERSISTENCE' // local storage failed: the document keeps working in memory
  | 'ERR_TIMEOUT' // a wait given a timeoutMs did not complete in time
  | 'ERR_READ_ONLY' // the document is read-only (its home region is unreachable): the write is refused
  | 'ERR_WRITE_TOO_LARGE' // a local write the relay cannot take for its size: held back (see `seq`, provider.dropWrite)
  | 'ERR_STALENESS_UNACHIEVABLE' // warning, once per capability: its maxStalenessMs is below what the relay can deliver

export class MeridianError extends Error {
  override readonly name = 'MeridianError'
  readonly code: MeridianErrorCode
  /** For ERR_RELAY: the relay's own error code. */
  readonly relayCode: string | undefined
  /** For ERR_WRITE_TOO_LARGE: the write's number (`provider.refusedWrites`, `provider.dropWrite(seq)`). */
  readonly seq: number | undefined
  /** For ERR_WRITE_TOO_LARGE: the write's size in bytes. */
  readonly bytes: number | undefined

  constructor(code: MeridianErrorCode, message: string, options?: { cause?: unknown; relayCode?: string; seq?: number; bytes?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.relayCode = options?.relayCode
    this.seq = options?.seq
    this.bytes = options?.bytes
  }
}

export const isMeridianError = (e: unknown): e is MeridianError => e instanceof MeridianError
