/**
 * A session's answer to `sync-step1`: what the client lacks (with the delete
 * set in full, or only new deletes when the digest exchange follows), then a
 * status report. Each answer may be the whole document, so they are budgeted.
 * And its answers in the delete-set digest exchange (delete-exchange.ts).
 */
import { encodeMessage, validateStateVector, type DsDigestMessage, type DsRangesMessage, type DsReplyFields } from '@meridian/protocol'
import { CLOSE_CODES, RelayError } from './errors.js'
import { TokenBucket } from './limits.js'
import type { Room, RoomPeer } from './room.js'
import type { DeleteExchange } from './delete-exchange.js'
import type { RejectReason } from './metrics.js'

/**
 * Bytes of sync-step2 answers per connection, in documents of
 * `maxDocumentBytes`: a client syncs once per connection (a y-websocket client
 * with `resyncInterval` once per interval), so two whole documents at once and
 * one every ten seconds is plenty; a client asking for more is closed (4429).
 * Small documents are never limited in practice.
 */
export const SYNC_ANSWER_RATE = { documentsPerSecond: 0.1, burstDocuments: 2, burstSlackBytes: 64 * 1024 } as const

/** The answer budget of one session, for documents of up to `maxDocumentBytes`. */
export function answerBudgetFor(maxDocumentBytes: number): TokenBucket {
  const { documentsPerSecond, burstDocuments, burstSlackBytes } = SYNC_ANSWER_RATE
  return new TokenBucket(maxDocumentBytes * documentsPerSecond, maxDocumentBytes * burstDocuments + burstSlackBytes, performance.now())
}

/** What answering needs of a document session (doc-session.ts). */
export interface SyncSession extends RoomPeer {
  answerBytes(): TokenBucket
  count(reason: RejectReason): void
  reject(error: RelayError, closeCode: number): void
  sendStatus(): void
}

export function answerSyncStep1(session: SyncSession, room: Room, stateVector: Uint8Array, deletes: DeleteExchange | null, digestAgreed: boolean): void {
  try {
    validateStateVector(stateVector)
  } catch (err) {
    session.reject(new RelayError('ERR_PROTOCOL', 'malformed state vector', { cause: err }), CLOSE_CODES.INVALID_MESSAGE)
    return
  }
  // With FEATURE_DS_DIGEST the deletes of structs the client holds are checked by digest
  // (its ds-digest follows); a joiner with nothing holds no such struct.
  deletes?.onStep1()
  const update = room.diffFor(stateVector, digestAgreed ? 'new-deletes' : 'all-deletes')
  // Each answer may be the whole document (cached, but still sent): a client asking over and over is cut off.
  if (session.answerBytes().take(update.length, performance.now()) > 0) {
    session.count('rate_limited')
    session.reject(new RelayError('ERR_RATE_LIMITED', 'too many sync-step1 answers'), CLOSE_CODES.RATE_LIMITED)
    return
  }
  session.send(encodeMessage({ type: 'sync-step2', update }))
  // Every sync round ends with a status report: the client's staleness bound starts here.
  session.sendStatus()
}

/** A `ds-digest` or `ds-ranges`: answered when the exchange was agreed (else ignored: step 2 had every delete). */
export function answerDeletes(session: SyncSession, room: Room, message: DsDigestMessage | DsRangesMessage, deletes: DeleteExchange | null): void {
  let reply: DsReplyFields | null = null
  try {
    reply = deletes?.answer(room.doc, message) ?? null
  } catch (err) {
    session.reject(new RelayError('ERR_PROTOCOL', `malformed ${message.type}`, { cause: err }), CLOSE_CODES.INVALID_MESSAGE)
    return
  }
  if (reply !== null) session.send(encodeMessage({ type: 'ds-reply', ...reply }))
}
