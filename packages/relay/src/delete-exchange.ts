/**
 * One connection's side of the delete-set digest exchange (FEATURE_DS_DIGEST,
 * PROTOCOL.md "Delete-set digest"). Each answer costs a pass over the
 * document's deletes, so a client gets at most one `ds-digest` answered per
 * `sync-step1` it sent, and one `ds-ranges` per bucket reply; extra ones are
 * ignored (a well-behaved client never sends them).
 */
import type * as Y from 'yjs'
import { answerDeleteDigest, answerDeleteRanges, type DsDigestMessage, type DsRangesMessage, type DsReplyFields } from '@meridian/protocol'

export class DeleteExchange {
  private digestsAllowed = 0
  private rangesAllowed = 0

  /** The client asked for a sync round: one digest may follow. */
  onStep1(): void {
    this.digestsAllowed = Math.min(this.digestsAllowed + 1, 2)
  }

  /** The reply to send, or null to ignore the message. Throws ProtocolError on malformed bounds or buckets. */
  answer(doc: Y.Doc, message: DsDigestMessage | DsRangesMessage): DsReplyFields | null {
    if (message.type === 'ds-digest') {
      if (this.digestsAllowed === 0) return null
      this.digestsAllowed--
      const reply = answerDeleteDigest(doc, message.bounds, message.digest)
      if (reply.kind === 'buckets') this.rangesAllowed = 1
      return reply
    }
    if (this.rangesAllowed === 0) return null
    this.rangesAllowed--
    return answerDeleteRanges(doc, message.bounds, message.widthClocks, message.buckets)
  }
}
