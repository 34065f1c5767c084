import { deleteRangesOfUpdate, unionDeleteRanges, type DeleteRanges } from '@meridian/protocol'

/**
 * Local updates the relay has not acknowledged. Entries are numbered locally
 * (`seq`); the store key arrives later, once the IndexedDB write commits —
 * sending never waits for it.
 */
export interface OutboxEntry {
  readonly seq: number
  readonly data: Uint8Array
  /** Key in the client store's pending list; null until the local write commits (or if it failed). */
  key: number | null
  acked: boolean
  /** Local time it was written (for the oldest-pending-age bound). */
  readonly atMs: number
}

export class Outbox {
  private entries: OutboxEntry[] = []
  private nextSeq = 1
  private bytes = 0
  /** Each entry's deletes, decoded once (on the first reconnect that needs them). */
  private readonly deletes = new WeakMap<OutboxEntry, DeleteRanges>()

  get size(): number {
    return this.entries.length
  }

  get byteLength(): number {
    return this.bytes
  }

  /** The seq the next entry will get; every entry so far has a smaller one. */
  get highWaterMark(): number {
    return this.nextSeq - 1
  }

  oldest(): OutboxEntry | undefined {
    return this.entries[0]
  }

  add(data: Uint8Array, key: number | null, atMs: number = Date.now()): OutboxEntry {
    const entry: OutboxEntry = { seq: this.nextSeq++, data, key, acked: false, atMs }
    this.entries.push(entry)
    this.bytes += data.byteLength
    return entry
  }

  /**
   * Every delete in the unacknowledged entries: on reconnect they go with our
   * step 2, so the relay's copy matches ours before the digests are compared.
   */
  deleteRanges(): DeleteRanges {
    const sets: DeleteRanges[] = []
    for (const entry of this.entries) {
      let ranges = this.deletes.get(entry)
      if (ranges === undefined) {
        try {
          ranges = deleteRangesOfUpdate(entry.data)
        } catch {
          // Not decodable (a corrupt stored entry): its deletes are left to the digest check.
          ranges = new Map()
        }
        this.deletes.set(entry, ranges)
      }
      if (ranges.size > 0) sets.push(ranges)
    }
    return unionDeleteRanges(sets)
  }

  /** The unacknowledged entries, oldest first. */
  unacknowledged(): readonly OutboxEntry[] {
    return this.entries
  }

  /**
   * Removes and returns every entry with `seq <= upToSeq`, except those `withheld`
   * (never sent: an ack cannot cover them; they stay until sent and acknowledged).
   */
  acknowledge(upToSeq: number, withheld: (seq: number) => boolean = () => false): OutboxEntry[] {
    const done: OutboxEntry[] = []
    const kept: OutboxEntry[] = []
    for (const e of this.entries) {
      if (e.seq <= upToSeq && !withheld(e.seq)) done.push(e)
      else kept.push(e)
    }
    if (done.length === 0) return done
    this.entries = kept
    for (const e of done) {
      e.acked = true
      this.bytes -= e.data.byteLength
    }
    return done
  }
}
