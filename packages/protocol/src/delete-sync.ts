/**
 * The client's side of the delete-set digest exchange (FEATURE_DS_DIGEST,
 * PROTOCOL.md "Delete-set digest"), as a small state machine: a client's
 * connection feeds it the relay's replies and carries out what it returns.
 * No socket here, so any client (the SDK, the benchmark's raw client) uses
 * the same logic, and tests run it on documents alone.
 */
import * as Y from 'yjs'
import { compareDeleteBuckets } from './delete-buckets.js'
import {
  clipDeleteRanges,
  decodeBounds,
  deleteSummaryBelow,
  deleteOnlyUpdate,
  deleteRangesOf,
  deleteRangesOfUpdate,
  encodeBounds,
  minBounds,
  subtractDeleteRanges,
  type ClockBounds,
  type DeleteRanges
} from './delete-ranges.js'
import type { DsDigestMessage, DsRangesMessage, DsReplyMessage } from './ds-digest.js'

export interface DeleteSyncStep {
  /** Apply to the document: the relay's deletes. */
  apply: Uint8Array | null
  /** Send as a `sync-update` (counted for acks): our deletes the relay lacks. */
  update: Uint8Array | null
  /** Send next: which buckets differ. */
  ranges: DsRangesMessage | null
  /** The exchange is over: the sync round is complete. */
  done: boolean
}

export class DeleteSync {
  private bounds: ClockBounds | null = null
  private boundsBytes: Uint8Array | null = null
  private phase: 'idle' | 'digest' | 'ranges' = 'idle'
  /** In the 'ranges' phase: our deletes in the buckets we asked about. */
  private ours: DeleteRanges | null = null

  /** After our step 2: the digest of our deletes that both sides can hold. */
  begin(doc: Y.Doc, relayStateVector: Uint8Array): DsDigestMessage {
    // Below both state vectors both sides hold every struct: there, compare deletes by digest.
    const bounds = minBounds(Y.decodeStateVector(Y.encodeStateVector(doc)), decodeBounds(relayStateVector))
    this.bounds = bounds
    this.boundsBytes = encodeBounds(bounds)
    this.phase = 'digest'
    return { type: 'ds-digest', bounds: this.boundsBytes, ...deleteSummaryBelow(doc, bounds) }
  }

  /** True between `begin` and the reply that ends the exchange. */
  get pending(): boolean {
    return this.phase !== 'idle'
  }

  /**
   * The relay's reply. `writable` false: we send none of our deletes (the
   * relay would refuse them). Throws ProtocolError on a reply that does not fit.
   */
  onReply(doc: Y.Doc, reply: DsReplyMessage, writable: boolean): DeleteSyncStep {
    const bounds = this.bounds
    const boundsBytes = this.boundsBytes
    const none: DeleteSyncStep = { apply: null, update: null, ranges: null, done: false }
    if (bounds === null || boundsBytes === null || this.phase === 'idle') return none
    if (reply.kind === 'buckets') {
      if (this.phase !== 'digest') return none
      // Ask for the relay's deletes in the buckets that differ; ours there wait for its answer,
      // so that only what it lacks goes up.
      const { buckets, mine } = compareDeleteBuckets(doc, bounds, reply.widthClocks, reply.hashes)
      this.phase = 'ranges'
      this.ours = mine
      return { ...none, ranges: { type: 'ds-ranges', bounds: boundsBytes, widthClocks: reply.widthClocks, buckets } }
    }
    if (reply.kind === 'match' && this.phase === 'digest') {
      this.reset()
      return { ...none, done: true }
    }
    if (reply.kind === 'recent') {
      // Exactly what we lacked (the relay checked that with it the digests match): nothing to send back.
      this.reset()
      return { ...none, apply: reply.update, done: true }
    }
    // What we hold where the relay answered: below the bounds, or in the buckets we asked about.
    const ours = this.phase === 'digest' ? clipDeleteRanges(deleteRangesOf(doc), bounds, true) : this.ours
    this.reset()
    const theirs = reply.kind === 'deletes' ? deleteRangesOfUpdate(reply.update) : new Map()
    const missing = writable && ours !== null ? subtractDeleteRanges(ours, theirs) : new Map()
    return {
      apply: reply.kind === 'deletes' ? reply.update : null,
      update: missing.size > 0 ? deleteOnlyUpdate(missing) : null,
      ranges: null,
      done: true
    }
  }

  /** The connection ended: forget the exchange. */
  reset(): void {
    this.phase = 'idle'
    this.bounds = null
    this.boundsBytes = null
    this.ours = null
  }
}
