/**
 * The relay-wide budget for documents in memory. A loaded Y.Doc takes about
 * 30–40 times its encoded size (structs, maps, the struct store's arrays), so
 * a document's share is estimated as its encoded size when loaded, plus every
 * change since, times `bytesPerEncodedByte`, plus the encodings cached for
 * joiners. When the total reaches the budget, idle documents are evicted
 * first; if that is not enough, new loads are refused with a retryable close.
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
  constructor(readonly options: MemoryBudgetOptions) {}

  /** One room's estimated share. */
  estimate(room: Room): number {
    return (room.loadedBytes + room.changedBytes) * this.options.bytesPerEncodedByte + room.cachedBytes
  }

  /** The estimated total of `rooms`. */
  total(rooms: Iterable<Room>): number {
    let n = 0
    for (const room of rooms) n += this.estimate(room)
    return n
  }

  /** True when `total` leaves no room for another document. */
  full(total: number): boolean {
    return total >= this.options.maxBytes
  }
}
