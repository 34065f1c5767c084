/**
 * A session's update-bearing messages (sync-step2, sync-update): applied
 * within the limits for a writer, never applied for a read-only token or a
 * read-only document. Acknowledged once durable (write-acks.ts).
 */
import { encodeMessage } from '@meridian/protocol'
import { CLOSE_CODES, RelayError, isRelayError } from './errors.js'
import type { Room, RoomPeer } from './room.js'
import type { DocSizeGuard } from './limits.js'
import { updateIsKnown } from './hostile.js'
import { applyWithinLimits, type GuardedApply } from './guarded-apply.js'
import type { RejectReason } from './metrics.js'
import type { WriteAcks } from './write-acks.js'
import type { Logger } from 'pino'

/** What these functions need of a document session (doc-session.ts). */
export interface WritingSession extends RoomPeer {
  readonly clientNodeId: string | null
  readonly noteTrackedWrite: (trackedSeq: number) => void
  readonly acks: WriteAcks
  readonly meridian: boolean
  readonly log: Logger
  count(reason: RejectReason): void
  reject(error: RelayError, closeCode: number): void
  markCommitted(seq: number): void
}

/** A writer's update: guarded, applied, acknowledged once committed; refused (the socket ends) otherwise. */
export function applyWritable(session: WritingSession, room: Room, seq: number, update: Uint8Array, docSize: DocSizeGuard): void {
  let result: GuardedApply
  try {
    result = applyWithinLimits(room, update, { kind: 'client', peer: session, nodeId: session.clientNodeId, tracked: session.noteTrackedWrite }, docSize)
  } catch (err) {
    const error = isRelayError(err) ? err : new RelayError('ERR_UPDATE_INVALID', undefined, { cause: err })
    session.count(error.code === 'ERR_UPDATE_TOO_DEEP' ? 'too_deep' : error.code === 'ERR_UPDATE_TOO_COSTLY' ? 'too_costly' : 'invalid_update')
    session.reject(error, CLOSE_CODES.INVALID_UPDATE)
    return
  }
  switch (result.kind) {
    case 'too-large':
      session.count('doc_too_large')
      session.reject(new RelayError('ERR_DOC_TOO_LARGE', `limit is ${docSize.maxBytes} bytes`), CLOSE_CODES.DOC_TOO_LARGE)
      return
    case 'missing-deps':
      // What integrated is stored; the rest would live in memory only, acknowledged yet lost on
      // restart: dropped, and the client resends it. Its commit no longer matters to this socket.
      result.committed.catch(() => undefined)
      session.count('missing_deps')
      session.reject(new RelayError('ERR_UPDATE_MISSING_DEPS'), CLOSE_CODES.INVALID_UPDATE)
      return
    case 'applied':
      result.committed.then(
        () => session.markCommitted(seq),
        (err: unknown) => {
          const error = isRelayError(err) ? err : new RelayError('ERR_STORAGE_WRITE', undefined, { cause: err })
          const refused = error.code === 'ERR_UPDATE_INVALID' || error.code === 'ERR_UPDATE_TOO_DEEP' || error.code === 'ERR_UPDATE_TOO_COSTLY'
          if (refused) session.count('invalid_update')
          session.reject(error, refused ? CLOSE_CODES.INVALID_UPDATE : CLOSE_CODES.INTERNAL_ERROR)
        }
      )
  }
}

/**
 * A read-only session's update is never applied. If the document already
 * has all of it (the handshake reply of a client with nothing new), it is
 * acknowledged like a committed one; otherwise it is refused: not applied, not
 * broadcast, an error to the client, and no ack from then on (acks are
 * cumulative). The socket stays open for reading (for a document the policy
 * made read-only it is closed instead: see below).
 */
export function handleReadOnlyUpdate(session: WritingSession, room: Room, seq: number, update: Uint8Array, code: 'ERR_READ_ONLY' | 'ERR_DOC_READ_ONLY'): void {
  let known: boolean
  try {
    known = updateIsKnown(room.doc, update)
  } catch (cause) {
    session.count('invalid_update')
    session.reject(new RelayError('ERR_UPDATE_INVALID', undefined, { cause }), CLOSE_CODES.INVALID_UPDATE)
    return
  }
  if (known) {
    if (!session.acks.anyRefused) void room.flush().then(() => session.markCommitted(seq))
    return
  }
  session.count('read_only')
  const error = new RelayError(code, 'the update was not applied')
  if (code === 'ERR_DOC_READ_ONLY') {
    // Fatal: acks are cumulative, so the session could acknowledge nothing after this write.
    // The client reconnects, is told the document is read-only, and holds its writes.
    session.reject(error, CLOSE_CODES.DOC_READ_ONLY)
    return
  }
  session.acks.refuse(seq)
  session.log.info({ code }, 'refused a write on a read-only connection')
  session.send(encodeMessage(session.meridian
    ? { type: 'error', code: error.code, message: error.message, fatal: false }
    : { type: 'auth-denied', reason: 'read-only' }))
}
