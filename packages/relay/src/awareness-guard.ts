/**
 * Who may speak for which awareness (presence) client id in a room. A
 * connection owns the ids it introduced (up to a cap) and may set only those;
 * an id another live connection owns is not its to set. Clocks are assigned
 * by the relay (one more than the relay's last for that id), never taken from
 * the client: a connection claiming an id with a huge clock can therefore not
 * keep its owner out once it is gone, and the owner's updates are always
 * newer than anything the relay broadcast before. States are size-capped.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

export interface AwarenessLimits {
  /** Awareness client ids one writing connection may own (a read-only one: 1). */
  maxIdsPerConnection: number
  /** Largest state (JSON text) one entry may carry, in bytes. */
  maxStateBytes: number
}

export const DEFAULT_AWARENESS_LIMITS: AwarenessLimits = {
  // A client speaks for one id per document; a few spare for an app that shares a socket.
  maxIdsPerConnection: 4,
  maxStateBytes: 32 * 1024
}

export interface AwarenessFilterResult {
  /** The entries kept, re-encoded with relay clocks; null if none was kept. */
  update: Uint8Array | null
  /** Entries dropped: the id belongs to another connection, the connection owns too many, or the state is too large. */
  dropped: number
}

/** The ids owned per connection (`owner` is any object standing for one: a room peer). */
export class AwarenessOwners<Owner extends object = object> {
  private readonly ownerOf = new Map<number, Owner>()
  private readonly idsOf = new Map<Owner, Set<number>>()

  /**
   * Keeps the entries of `update` (y-protocols format) that `owner` may set,
   * claiming new ids for it within `maxIds`; `clockOf(id)` is the relay's
   * current clock for an id. Throws on a malformed update.
   */
  filter(update: Uint8Array, owner: Owner, maxIds: number, maxStateBytes: number, clockOf: (id: number) => number): AwarenessFilterResult {
    const decoder = decoding.createDecoder(update)
    const count = decoding.readVarUint(decoder)
    const kept = new Map<number, string>()
    let dropped = 0
    for (let i = 0; i < count; i++) {
      if (!decoding.hasContent(decoder)) throw new RangeError('awareness update truncated')
      const id = decoding.readVarUint(decoder)
      decoding.readVarUint(decoder) // the client's clock: replaced by the relay's
      const state = decoding.readVarString(decoder)
      if (Buffer.byteLength(state, 'utf8') > maxStateBytes || !this.claim(id, owner, maxIds)) {
        dropped++
        continue
      }
      kept.set(id, state) // the last entry for an id wins, as it would in y-protocols
    }
    if (kept.size === 0) return { update: null, dropped }
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, kept.size)
    for (const [id, state] of kept) {
      encoding.writeVarUint(encoder, id)
      encoding.writeVarUint(encoder, clockOf(id) + 1)
      encoding.writeVarString(encoder, state)
    }
    return { update: encoding.toUint8Array(encoder), dropped }
  }

  /** Forgets `owner`; returns the ids it owned (their states are to be removed). */
  release(owner: Owner): number[] {
    const ids = this.idsOf.get(owner)
    this.idsOf.delete(owner)
    if (ids === undefined) return []
    for (const id of ids) if (this.ownerOf.get(id) === owner) this.ownerOf.delete(id)
    return [...ids]
  }

  /** How many ids `owner` holds. */
  countOf(owner: Owner): number {
    return this.idsOf.get(owner)?.size ?? 0
  }

  private claim(id: number, owner: Owner, maxIds: number): boolean {
    const current = this.ownerOf.get(id)
    if (current === owner) return true
    if (current !== undefined) return false
    let ids = this.idsOf.get(owner)
    if ((ids?.size ?? 0) >= maxIds) return false
    if (ids === undefined) this.idsOf.set(owner, (ids = new Set()))
    ids.add(id)
    this.ownerOf.set(id, owner)
    return true
  }
}
