/**
 * One connection's side of the delete-set digest exchange (FEATURE_DS_DIGEST,
 * PROTOCOL.md "Delete-set digest"). Each answer costs a pass over the
 * document's deletes, so a client gets at most one `ds-digest` answered per
 * `sync-step1` it sent, and one `ds-ranges` per bucket reply; extra ones are
 * ignored (a well-behaved client never sends them). With the node id of its
 * HELLO, a client that comes back is first offered the deletions since it
 * left (the room's delete log).
 */
import type * as Y from 'yjs'
import { answerDeleteDigest, answerDeleteRanges, type DsDigestMessage, type DsRangesMessage, type DsReplyFields } from '@meridian/protocol'
import type { DeleteLog } from './delete-log.js'

export class DeleteExchange {
  private digestsAllowed = 0
  private rangesAllowed = 0
  private readonly log: DeleteLog | null
  private closed = false

  /** `nodeId`: the client's HELLO node id ('' — none: no delete log for it); `logOf` gives the room's log. */
  constructor(logOf: () => DeleteLog, readonly nodeId: string) {
    this.log = nodeId === '' ? null : logOf()
    this.log?.connected(nodeId)
  }

  /** The client asked for a sync round: one digest may follow. */
  onStep1(): void {
    this.digestsAllowed = Math.min(this.digestsAllowed + 1, 2)
  }

  /** The reply to send, or null to ignore the message. Throws ProtocolError on malformed bounds or buckets. */
  answer(doc: Y.Doc, message: DsDigestMessage | DsRangesMessage): DsReplyFields | null {
    if (message.type === 'ds-digest') {
      if (this.digestsAllowed === 0) return null
      this.digestsAllowed--
      const log = this.log
      const reply = answerDeleteDigest(doc, message, log === null ? undefined : (bounds) => log.candidates(this.nodeId, bounds))
      if (reply.kind === 'buckets') this.rangesAllowed = 1
      return reply
    }
    if (this.rangesAllowed === 0) return null
    this.rangesAllowed--
    return answerDeleteRanges(doc, message.bounds, message.widthClocks, message.buckets)
  }

  /** The connection ended. Idempotent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.log?.disconnected(this.nodeId)
  }
}
