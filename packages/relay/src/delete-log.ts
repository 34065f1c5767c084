/**
 * A room's recent deletions, so a client that reconnects gets what it missed
 * without a bucket round (FEATURE_DS_DIGEST, PROTOCOL.md "Delete-set digest",
 * reply kind 3 `recent`). The relay remembers where this log stood when each
 * client (by the node id of its HELLO) left, and on its digest tries the
 * deletions since then: if the client's count and digest match the relay's
 * deletes without them, exactly those are what it lacks. A guess that does not
 * match costs nothing but a hash: the exchange goes on as without the log.
 *
 * Bounded: at most DELETE_LOG_MAX_RANGES ranges (oldest entries go first) and
 * DELETE_LOG_MAX_CLIENTS remembered departures per room (the oldest go first).
 */
import type * as Y from 'yjs'
import {
  clipDeleteRanges,
  countDeleteRanges,
  countDeletedClocks,
  unionDeleteRanges,
  type ClockBounds,
  type DeleteRanges
} from '@meridian/protocol'

/**
 * Per room: a typical delete is one range, so this is about the last thousand
 * deletions — up to roughly 200 KB for a room whose clients delete a lot
 * (nothing for one without deletions; it goes when the room unloads). A client
 * away for longer falls back to the bucket round.
 */
export const DELETE_LOG_MAX_RANGES = 1_024
export const DELETE_LOG_MAX_CLIENTS = 1_024
/** How many entries before a client's departure are tried (it may have missed the last few broadcasts). */
export const DELETE_LOG_LOOKBACK = 16

interface Entry {
  seq: number
  /** Node id of the connection whose write it was (its own deletes are never news to it), or null. */
  origin: string | null
  ranges: DeleteRanges
  count: number
}

export interface DeleteLogLimits {
  /** Most ranges kept (the oldest entries go first). */
  maxRanges: number
  /** Most departures remembered. */
  maxClients: number
}

export class DeleteLog {
  /** Entries oldest first, from `head` on (dropped ones before it, cleared now and then). */
  private entries: Entry[] = []
  private head = 0
  private ranges = 0
  private readonly limits: DeleteLogLimits
  private seq = 0
  /** Seq of the last entry dropped (anything at or before it is gone). */
  private droppedUpTo = 0
  private readonly left = new Map<string, number>()
  private readonly live = new Map<string, number>()

  constructor(
    doc: Y.Doc,
    originOf: (origin: unknown) => string | null,
    limits: DeleteLogLimits = { maxRanges: DELETE_LOG_MAX_RANGES, maxClients: DELETE_LOG_MAX_CLIENTS }
  ) {
    this.limits = limits
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      if (tr.deleteSet.clients.size === 0) return
      const raw: DeleteRanges = new Map()
      for (const [client, items] of tr.deleteSet.clients) raw.set(client, items.map((i): [number, number] => [i.clock, i.len]))
      this.add(unionDeleteRanges([raw]), originOf(tr.origin))
    })
  }

  private add(ranges: DeleteRanges, origin: string | null): void {
    const count = countDeleteRanges(ranges)
    this.entries.push({ seq: ++this.seq, origin, ranges, count })
    this.ranges += count
    while (this.ranges > this.limits.maxRanges && this.head < this.entries.length) {
      const first = this.entries[this.head++] as Entry
      this.ranges -= first.count
      this.droppedUpTo = first.seq
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
  }

  /** A connection of `nodeId` agreed the digest exchange. */
  connected(nodeId: string): void {
    this.live.set(nodeId, (this.live.get(nodeId) ?? 0) + 1)
  }

  /** A connection of `nodeId` ended: remember where the log stood. */
  disconnected(nodeId: string): void {
    const n = (this.live.get(nodeId) ?? 1) - 1
    if (n > 0) this.live.set(nodeId, n)
    else this.live.delete(nodeId)
    this.left.delete(nodeId)
    this.left.set(nodeId, this.seq)
    if (this.left.size > this.limits.maxClients) this.left.delete(this.left.keys().next().value as string)
  }

  /**
   * Candidate sets of deletions `nodeId` may lack, below `bounds`, newest
   * guess first: those since it left, then since each of the few entries
   * before that. None when its departure is unknown or the log lost entries.
   * A client whose old connection is still open (its drop not yet noticed)
   * left "now".
   */
  *candidates(nodeId: string, bounds: ClockBounds): Generator<{ ranges: DeleteRanges; clocks: number }> {
    const departed = (this.live.get(nodeId) ?? 0) > 1 ? this.seq : this.left.get(nodeId)
    if (departed === undefined) return
    let from = departed
    const oldest = Math.max(this.droppedUpTo, departed - DELETE_LOG_LOOKBACK)
    if (from < this.droppedUpTo) return
    for (; from >= oldest; from--) {
      const since: DeleteRanges[] = []
      for (let i = this.head; i < this.entries.length; i++) {
        const e = this.entries[i] as Entry
        if (e.seq > from && e.origin !== nodeId) since.push(e.ranges)
      }
      const ranges = clipDeleteRanges(unionDeleteRanges(since), bounds, true)
      if (ranges.size === 0) continue
      yield { ranges, clocks: countDeletedClocks(ranges) }
    }
  }
}
