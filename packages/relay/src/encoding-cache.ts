/**
 * A room's recent diff encodings, for the document version they were made
 * from: a client sending the same state vector again (a reconnect storm, or a
 * hostile reader asking over and over) gets the bytes already made instead of
 * a fresh encoding of the whole document. Cleared on every change; a few
 * entries at most, least recently used dropped first.
 */
export class EncodingCache {
  private readonly entries = new Map<string, Uint8Array>()

  constructor(private readonly maxEntries = 4) {}

  /** The cached bytes for `key`, else `make()`'s (then cached). */
  get(key: string, make: () => Uint8Array): Uint8Array {
    const hit = this.entries.get(key)
    if (hit !== undefined) {
      // Most recently used last.
      this.entries.delete(key)
      this.entries.set(key, hit)
      return hit
    }
    const bytes = make()
    this.entries.set(key, bytes)
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next()
      if (oldest.done === true) break
      this.entries.delete(oldest.value)
    }
    return bytes
  }

  /** Bytes held (for the relay's memory accounting). */
  get bytes(): number {
    let n = 0
    for (const v of this.entries.values()) n += v.length
    return n
  }

  get size(): number {
    return this.entries.size
  }

  clear(): void {
    if (this.entries.size > 0) this.entries.clear()
  }
}

/** A cache key for a state vector (its bytes as latin1 text: one byte per character). */
export const stateVectorKey = (flavor: string, stateVector: Uint8Array): string =>
  `${flavor}:${Buffer.from(stateVector.buffer, stateVector.byteOffset, stateVector.byteLength).toString('latin1')}`
