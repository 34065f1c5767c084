/**
 * One document of a multiplexed socket: the host of its document session
 * (doc-session.ts), as the socket owner is on a single-document socket. What
 * the session sends goes out wrapped in a `doc-frame` for its id; what would
 * end a single-document socket — a refusal while loading, a rejected write,
 * a storage failure — ends this document alone, with `doc-closed` carrying the
 * close code and error code the socket would have closed with (a Meridian
 * session is told the fatal `error` first, as on a single-document socket).
 */
import type { Logger } from 'pino'
import { encodeMuxMessage, type MuxMessage } from '@meridian/protocol'
import { CLOSE_CODES, type RelayError } from './errors.js'
import type { Access } from './auth.js'
import type { Broadcast } from './broadcast.js'
import type { RoomPeer } from './room-peer.js'
import type { CloseReason, RelayMetrics } from './metrics.js'
import { DocSession } from './doc-session.js'
import type { DocSessionDeps, SessionHost } from './session-host.js'
import { closeReasonOf, fatalError, refusal, refusedFor, type SocketError } from './connection-end.js'

/** What a document needs of its multiplexed socket (mux-connection.ts). */
export interface MuxSocket {
  readonly id: string
  readonly log: Logger
  readonly debugEnabled: boolean
  readonly sessionDeps: DocSessionDeps
  /** Whether the socket still sends. */
  readonly writable: boolean
  /** Queues one frame for the socket (not counted: the messages inside are). */
  write(frame: Uint8Array): void
  /** Takes `bytes` of the socket's budget for frames held while its documents load; false: over it. */
  reserveHeld(bytes: number): boolean
  releaseHeld(bytes: number): void
  /** The document closed: its id is free again. */
  docEnded(docId: number): void
  /** A message with no place inside a doc-frame: a protocol error that ends the socket. */
  misplaced(detail: string): void
}

/** Refuses document `docId` before it opened: counted, logged and answered `doc-closed`. */
export function refuseDoc(mux: MuxSocket, docId: number, end: SocketError, reason: CloseReason, log: Logger): void {
  const refused = end.refused ?? refusedFor(reason)
  const { error, closeCode, detail } = end
  mux.sessionDeps.metrics.muxDocumentsRefused.inc({ reason: refused })
  log.info({ code: error.code, reason: refused, closeCode, ...(detail !== undefined ? { detail } : {}) }, 'document refused')
  mux.write(encodeMuxMessage({ type: 'doc-closed', docId, closeCode, reason: error.code }))
}

export class MuxDocHost implements SessionHost {
  readonly session: DocSession
  private logger: Logger | null = null
  /** Bytes of this document's frames held while it loads (part of the socket's budget). */
  private heldBytes = 0
  private closed = false

  constructor(private readonly mux: MuxSocket, readonly docId: number, readonly docName: string, access: Access) {
    this.session = new DocSession(this, mux.sessionDeps, docName, access, [], 0)
  }

  get id(): string {
    return this.mux.id
  }

  get log(): Logger {
    return (this.logger ??= this.mux.log.child({ doc: this.docName, docId: this.docId }))
  }

  private get metrics(): RelayMetrics {
    return this.mux.sessionDeps.metrics
  }

  /** One message of the document's protocol from the client: handled once open, held (bounded) while loading. */
  frame(message: Uint8Array): void {
    const data = Buffer.from(message.buffer, message.byteOffset, message.byteLength)
    if (this.session.isOpen) {
      this.session.frame(data, true)
      return
    }
    const size = message.length
    if (this.mux.reserveHeld(size)) {
      if (this.session.hold({ kind: 'raw', data, isBinary: true }, size)) {
        this.heldBytes += size
        return
      }
      this.mux.releaseHeld(size)
    }
    this.end('other', refusal('ERR_LOADING_QUEUE_FULL', CLOSE_CODES.TRY_AGAIN_LATER, 'queue_overflow'))
  }

  send(message: Uint8Array): void {
    if (this.closed || !this.mux.writable) return
    this.metrics.messageOut(message)
    this.mux.write(encodeMuxMessage({ type: 'doc-frame', docId: this.docId, message }))
  }

  /** A room's broadcast: each message wrapped for this document (a copy per multiplexed peer; the room counts them). */
  deliver(broadcast: Broadcast, peer: RoomPeer): boolean {
    if (this.closed || !this.mux.writable) return false
    let took = false
    for (const e of broadcast.entries) {
      if (e.except === peer) continue
      this.mux.write(encodeMuxMessage({ type: 'doc-frame', docId: this.docId, message: e.message }))
      took = true
    }
    return took
  }

  opened(access: Access): void {
    this.releaseHeld()
    this.metrics.muxDocuments.inc({ access })
    // The document's logger is made only when used (most documents never log).
    if (this.mux.debugEnabled) this.log.debug({ access }, 'document opened')
  }

  /** A refreshed token's access on this document. */
  setAccess(access: Access): void {
    const previous = this.session.access
    if (!this.session.setAccess(access)) return
    this.metrics.muxDocuments.dec({ access: previous })
    this.metrics.muxDocuments.inc({ access })
  }

  reject(error: RelayError, closeCode: number): void {
    this.end(closeReasonOf(error.code), { error, closeCode })
  }

  /**
   * Ends the document alone, once (false if already closed): before it opened
   * a refusal, once open `reason` is the close reason and a Meridian session is
   * told `error` first. Either way the client gets `doc-closed`.
   */
  end(reason: CloseReason, end: SocketError): boolean {
    if (this.closed) return false
    const { error, closeCode } = end
    if (!this.session.isOpen) {
      refuseDoc(this.mux, this.docId, end, reason, this.log)
      this.finish()
      return true
    }
    this.log.info({ code: error.code, reason: error.message, closeCode }, 'closing document')
    if (this.session.meridian) this.send(fatalError(error))
    this.metrics.muxDocumentsClosed.inc({ reason })
    this.finish()
    this.mux.write(encodeMuxMessage({ type: 'doc-closed', docId: this.docId, closeCode, reason: error.code }))
    return true
  }

  /** The client's `doc-close`: answered `doc-closed(1000, '')`. */
  closeByClient(): void {
    if (this.closed) return
    if (this.session.isOpen) this.metrics.muxDocumentsClosed.inc({ reason: 'client' })
    this.finish()
    this.mux.write(encodeMuxMessage({ type: 'doc-closed', docId: this.docId, closeCode: CLOSE_CODES.NORMAL, reason: '' }))
  }

  /** The socket ended: the document goes with it, nothing is sent. */
  socketEnded(): void {
    if (!this.closed) this.finish()
  }

  /** A token inside a doc-frame: tokens are the connection's (a connection-level `auth-token`). */
  refreshToken(): void {
    this.mux.misplaced('auth-token inside a doc-frame')
  }

  nested(type: MuxMessage['type']): void {
    this.mux.misplaced(`${type} inside a doc-frame`)
  }

  /** Leaves the room and the socket's documents (an open one leaves the gauge). */
  private finish(): void {
    if (this.session.isOpen) this.metrics.muxDocuments.dec({ access: this.session.access })
    this.closed = true
    this.session.close()
    this.releaseHeld()
    this.mux.docEnded(this.docId)
  }

  private releaseHeld(): void {
    this.mux.releaseHeld(this.heldBytes)
    this.heldBytes = 0
  }
}
