/**
 * The relay-wide budget for documents in memory. A loaded Y.Doc takes about
 * 30–40 times its encoded size (structs, maps, the struct store's arrays), so
 * a document's share is estimated as its encoded size when loaded, plus every
 * change since, times `bytesPerEncodedByte`, plus the encodings cached for
 * joiners. When the total reaches the budget, idle documents are evicted
 * first; if that is not enough, new loads are refused with a retryable close.
 *
 * The total is kept as it goes (rooms report when their estimate may have
 * changed: `update`), not summed over every room on every load: that sum made
 * loading n documents cost O(n²) (the many-docs bench).
 */
import type { Room } from './room.js'

export interface MemoryBudgetOptions {
  /** Estimated bytes all loaded documents may take together. */
  maxBytes: number
  /** Memory per encoded byte of a document. */
  bytesPerEncodedByte: number
}

export const DEFAULT_MEMORY_BUDGET: MemoryBudgetOptions = {
  maxBytes: 2 * 1024 * 1024 * 1024,
  bytesPerEncodedByte: 40
}

export class DocumentMemoryBudget {
  /** Each tracked room's estimate when last reported. */
  private readonly estimates = new Map<Room, number>()
  private totalBytes = 0

  constructor(readonly options: MemoryBudgetOptions) {}

  /** One room's estimated share. */
  estimate(room: Room): number {
    return (room.loadedBytes + room.changedBytes) * this.options.bytesPerEncodedByte + room.cachedBytes
  }

  /** The estimated total of `rooms`, summed afresh. */
  total(rooms: Iterable<Room>): number {
    let n = 0
    for (const room of rooms) n += this.estimate(room)
    return n
  }

  /** The estimated total of the tracked rooms (the running sum: equal to `total` of them). */
  get trackedBytes(): number {
    return this.totalBytes
  }

  /** Counts `room` from now on (it is in memory); a room tracked already is updated. */
  track(room: Room): void {
    this.set(room, this.estimate(room))
  }

  /** `room`'s estimate may have changed; ignored for a room not tracked (not loaded yet, or gone). */
  update(room: Room): void {
    if (this.estimates.has(room)) this.set(room, this.estimate(room))
  }

  /** `room` left memory. */
  untrack(room: Room): void {
    const previous = this.estimates.get(room)
    if (previous === undefined) return
    this.estimates.delete(room)
    this.totalBytes -= previous
  }

  /** Every room left memory. */
  clear(): void {
    this.estimates.clear()
    this.totalBytes = 0
  }

  /** True when `total` leaves no room for another document. */
  full(total: number): boolean {
    return total >= this.options.maxBytes
  }

  private set(room: Room, bytes: number): void {
    this.totalBytes += bytes - (this.estimates.get(room) ?? 0)
    this.estimates.set(room, bytes)
  }
}
