/**
 * How the relay ends a document socket: the error the client is told (close
 * code, and a fatal `error` message once it speaks Meridian) and the metric
 * reason it is counted under. Shared by the socket owner (connection.ts), its
 * auth gate and its document sessions.
 */
import type { Clock } from '@meridian/base'
import type { Logger } from 'pino'
import { encodeMessage, isProtocolError } from '@meridian/protocol'
import { CLOSE_CODES, RelayError, type RelayErrorCode } from './errors.js'
import type { CloseReason, RefuseReason, RelayMetrics } from './metrics.js'
import { SOCKET_CONNECTING, SOCKET_OPEN, type RelaySocket } from './transport.js'
import { DEFAULT_CLOSE_GRACE_MS, closeThenTerminate, terminateAfterGrace } from './socket-close.js'

/** Why the relay ends a socket, as the client is told. */
export interface SocketError {
  readonly error: RelayError
  readonly closeCode: number
  /** Before the document is open: the `connections_refused_total` reason (default: from the close reason, see refusedFor). */
  readonly refused?: RefuseReason
  /** For the log only. */
  readonly detail?: string
  /** Stop reading at once (a peer over its pre-auth byte budget): the close frame, then the socket is destroyed. */
  readonly stopReading?: boolean
}

/** A refusal before the document is open (the common shape of the auth gate's and the loader's verdicts). */
export function refusal(code: RelayErrorCode, closeCode: number, refused: RefuseReason, detail?: string): SocketError {
  return detail === undefined ? { error: new RelayError(code), closeCode, refused } : { error: new RelayError(code), closeCode, refused, detail }
}

/** Which `connections_closed_total` reason a relay error ends a live connection with. */
export const CLOSE_REASONS: Partial<Record<RelayErrorCode, CloseReason>> = {
  ERR_PROTOCOL: 'protocol',
  ERR_AWARENESS_INVALID: 'protocol',
  ERR_UPDATE_INVALID: 'invalid_update',
  ERR_UPDATE_MISSING_DEPS: 'invalid_update',
  ERR_UPDATE_TOO_DEEP: 'invalid_update',
  ERR_UPDATE_TOO_COSTLY: 'invalid_update',
  ERR_DOC_BROKEN: 'other',
  ERR_STORAGE_WRITE: 'storage',
  ERR_DOC_TOO_LARGE: 'doc_too_large',
  ERR_AUTH_EXPIRED: 'expired',
  ERR_AUTH_REVOKED: 'revoked',
  ERR_AUTH_FORBIDDEN: 'revoked',
  ERR_RATE_LIMITED: 'rate_limited',
  ERR_SLOW_CONSUMER: 'slow_consumer',
  ERR_IDLE_TIMEOUT: 'idle',
  ERR_RELAY_CLOSED: 'shutdown'
}

/** The close reason of a live connection ended by `code`. */
export function closeReasonOf(code: RelayErrorCode): CloseReason {
  return CLOSE_REASONS[code] ?? 'other'
}

/** The refused-connections reason of a socket ended for `reason` before its document opened. */
export function refusedFor(reason: CloseReason): RefuseReason {
  switch (reason) {
    case 'revoked':
    case 'expired':
    case 'idle':
    case 'rate_limited':
      return reason
    case 'shutdown':
      return 'shutting_down'
    case 'client':
    case 'slow_consumer':
    case 'heartbeat':
    case 'protocol':
    case 'invalid_update':
    case 'doc_too_large':
    case 'storage':
    case 'other':
      return 'other'
  }
}

/** Sends the close frame unless the socket is already closing. */
export function closeIfOpen(socket: RelaySocket, closeCode: number, reason: string): void {
  if (socket.readyState === SOCKET_OPEN || socket.readyState === SOCKET_CONNECTING) socket.close(closeCode, reason.slice(0, 120))
}

/**
 * A refused socket gets the close frame and a short grace to complete the
 * handshake before it is destroyed; with `stopReading`, nothing more is read meanwhile.
 */
export function closeRefusedSocket(socket: RelaySocket, closeCode: number, reason: string, stopReading: boolean, clock: Clock): void {
  if (socket.readyState !== SOCKET_OPEN && socket.readyState !== SOCKET_CONNECTING) return
  if (stopReading) closeThenTerminate(socket, closeCode, reason, DEFAULT_CLOSE_GRACE_MS, clock)
  else {
    socket.close(closeCode, reason.slice(0, 120))
    terminateAfterGrace(socket, DEFAULT_CLOSE_GRACE_MS, clock)
  }
}

/** Ends without an error to tell: the client left, the socket is destroyed, or the relay shuts down. */
export type SilentEnd = 'client' | 'slow_consumer' | 'heartbeat' | 'shutdown'

/** What ending a socket touches. */
export interface EndContext {
  socket: RelaySocket
  /** The socket's logger, made only if a line is logged. */
  logs: { readonly log: Logger }
  metrics: RelayMetrics
  clock: Clock
}

export function endSilently({ socket }: EndContext, reason: SilentEnd): void {
  switch (reason) {
    case 'client':
    case 'slow_consumer':
      return // closed already; destroyed by the writer
    case 'heartbeat':
      socket.terminate()
      return
    case 'shutdown':
      closeIfOpen(socket, CLOSE_CODES.GOING_AWAY, 'relay shutting down')
  }
}

/** The fatal `error` message a Meridian client is told before its document closes. */
export function fatalError(error: RelayError): Uint8Array {
  // Decode failures carry the decoder's own code on the wire (PROTOCOL.md, "Errors").
  const code = isProtocolError(error.cause) ? error.cause.code : error.code
  return encodeMessage({ type: 'error', code, message: error.message, fatal: true })
}

/** A live connection: logged, told (a Meridian client, through `tell`), closed with the error's code. */
export function endOpen({ socket, logs }: EndContext, { error, closeCode }: SocketError, tell: { send(message: Uint8Array): void } | null): void {
  logs.log.info({ code: error.code, reason: error.message, closeCode }, 'closing connection')
  tell?.send(fatalError(error))
  closeIfOpen(socket, closeCode, error.code)
}

/** Why a document that failed to load is refused (the socket, or the document on a multiplexed socket). */
export function loadRefusal(err: unknown): SocketError {
  if (err instanceof RelayError) {
    switch (err.code) {
      case 'ERR_MEMORY_BUDGET':
        // Retryable: documents leave memory as they go idle.
        return refusal('ERR_MEMORY_BUDGET', CLOSE_CODES.TRY_AGAIN_LATER, 'memory_budget')
      case 'ERR_RELAY_CLOSED':
        return refusal('ERR_RELAY_CLOSED', CLOSE_CODES.GOING_AWAY, 'shutting_down')
      case 'ERR_DOC_DELETED':
        // Fatal for the client (FATAL_CLOSE_CODES), as the name stays deleted.
        return refusal('ERR_DOC_DELETED', CLOSE_CODES.DOC_DELETED, 'doc_deleted')
      default:
        return refusal(err.code, CLOSE_CODES.DOC_LOAD_FAILED, 'doc_load_failed')
    }
  }
  return refusal('ERR_DOC_LOAD', CLOSE_CODES.DOC_LOAD_FAILED, 'doc_load_failed')
}

/**
 * Refused before it joined its document: counted, logged, and given the close
 * frame with a short grace to complete the handshake before the socket is
 * destroyed. The pre-auth byte count stays on until then; once over it
 * (`stopReading`), nothing more is read.
 */
export function endRefused({ socket, logs, metrics, clock }: EndContext, end: SocketError, reason: CloseReason, ip: string): void {
  const refused = end.refused ?? refusedFor(reason)
  const { code } = end.error
  const { closeCode, detail } = end
  metrics.connectionsRefused.inc({ reason: refused })
  logs.log.info({ code, reason: refused, closeCode, ip, ...(detail !== undefined ? { detail } : {}) }, 'connection refused')
  closeRefusedSocket(socket, closeCode, code, end.stopReading === true, clock)
}
