/**
 * A room's recent diff encodings, for the document version they were made
 * from: a client sending the same state vector again (a reconnect storm, or a
 * hostile reader asking over and over) gets the bytes already made instead of
 * a fresh encoding of the whole document. Cleared on every change; a few
 * entries at most, least recently used dropped first.
 */
export class EncodingCache {
  /** Made on the first diff (most rooms only ever encode for joiners with nothing: see room-encodings.ts). */
  private entries: Map<string, Uint8Array> | null = null

  constructor(private readonly maxEntries = 4) {}

  /** The cached bytes for `key`, else `make()`'s (then cached). */
  get(key: string, make: () => Uint8Array): Uint8Array {
    const entries = (this.entries ??= new Map())
    const hit = entries.get(key)
    if (hit !== undefined) {
      // Most recently used last.
      entries.delete(key)
      entries.set(key, hit)
      return hit
    }
    const bytes = make()
    entries.set(key, bytes)
    while (entries.size > this.maxEntries) {
      const oldest = entries.keys().next()
      if (oldest.done === true) break
      entries.delete(oldest.value)
    }
    return bytes
  }

  /** Bytes held (for the relay's memory accounting). */
  get bytes(): number {
    let n = 0
    for (const v of this.entries?.values() ?? []) n += v.length
    return n
  }

  get size(): number {
    return this.entries?.size ?? 0
  }

  /** Drops every entry, and the map with them (a room is changed far more often than re-asked the same diff). */
  clear(): void {
    this.entries = null
  }
}

/** A cache key for a state vector (its bytes as latin1 text: one byte per character). */
export const stateVectorKey = (flavor: string, stateVector: Uint8Array): string =>
  `${flavor}:${Buffer.from(stateVector.buffer, stateVector.byteOffset, stateVector.byteLength).toString('latin1')}`
