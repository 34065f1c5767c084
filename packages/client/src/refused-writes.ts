import * as Y from 'yjs'
import { decodeBounds, encodeBounds, type DeleteRanges } from '@meridian/protocol'
import type { DeleteDigest } from './delete-digest.js'

/** Default `maxFrameBytes`: the relay's default frame limit (`maxMessageBytes`, 16 MiB). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
/** A sync message's bytes besides the update (message type, sync type, length prefix). */
export const FRAME_OVERHEAD_BYTES = 16

/** Why a write is not sent. */
export type RefusalReason =
  /** Its update alone is larger than a frame may be (`maxFrameBytes`): checked before sending. */
  | 'frame-too-large'
  /** The relay closed the connection refusing it: 1009 (frame too big) or 4413 (document too large). */
  | 'relay-refused'
  /** It builds on a refused write (inserts next to it, deletes in it): the relay could not apply it alone. */
  | 'depends-on-refused'

export interface RefusedWrite {
  /** The write's number in the ledger (`error.seq`, `provider.dropWrite(seq)`). */
  readonly seq: number
  readonly bytes: number
  readonly reason: RefusalReason
  /** For `depends-on-refused`: the refused write it builds on. */
  readonly dependsOn: number | null
  /** The update the doc emitted for it. */
  readonly update: Uint8Array
}

interface Block {
  write: RefusedWrite
  /** Yjs client id and the clock range [from, to) of its structs. */
  client: number
  from: number
  to: number
}

/**
 * Writes the SDK holds back because the relay cannot take them, and what may be
 * sent around them. A refused write's structs are withheld from every update
 * sent (live, step 2, catch-up), and so is every later write that builds on
 * them; the provider gives the document a fresh Yjs client id at each refusal,
 * so later independent writes do not sit behind the withheld clocks and still
 * sync. The document itself keeps everything: it stays usable locally.
 */
export class RefusedWrites {
  private readonly blocks: Block[] = []

  get size(): number {
    return this.blocks.length
  }

  list(): RefusedWrite[] {
    return this.blocks.map((b) => b.write)
  }

  has(seq: number): boolean {
    return this.blocks.some((b) => b.write.seq === seq)
  }

  /**
   * Holds back a write of `client` (the document's id when it was made). Returns
   * the refusal, or null if the update carries no struct of that client (nothing
   * to hold back: e.g. a pure deletion, which is small).
   */
  refuse(seq: number, update: Uint8Array, client: number, reason: RefusalReason, dependsOn: number | null = null): RefusedWrite | null {
    const meta = Y.parseUpdateMeta(update)
    const from = meta.from.get(client)
    const to = meta.to.get(client)
    if (from === undefined || to === undefined || to <= from) return null
    const write: RefusedWrite = { seq, bytes: update.byteLength, reason, dependsOn, update }
    this.blocks.push({ write, client, from, to })
    return write
  }

  /** The refused write `update` builds on (references or deletes one of its structs), or null. */
  dependencyOf(update: Uint8Array): number | null {
    if (this.blocks.length === 0) return null
    const { structs, ds } = Y.decodeUpdate(update)
    for (const s of structs) {
      if (!(s instanceof Y.Item)) continue
      for (const id of [s.origin, s.rightOrigin, s.parent instanceof Y.ID ? s.parent : null]) {
        const hit = id === null ? null : this.blockAt(id.client, id.clock, 1)
        if (hit !== null) return hit.write.seq
      }
    }
    for (const [client, items] of ds.clients) {
      for (const item of items) {
        const hit = this.blockAt(client, item.clock, item.len)
        if (hit !== null) return hit.write.seq
      }
    }
    return null
  }

  /**
   * What a peer at `stateVector` lacks of `doc`, without the withheld structs (nor
   * deletes of them). `digest`: the peer checks older deletes by digest (FEATURE_DS_DIGEST),
   * `pendingDeletes` are our unacknowledged ones. Without blocks: the usual encoding.
   */
  encodeDiff(
    doc: Y.Doc,
    stateVector: Uint8Array,
    digest: DeleteDigest | null,
    pendingDeletes: () => DeleteRanges[],
    unacknowledged: () => readonly { seq: number; data: Uint8Array }[]
  ): Uint8Array {
    if (this.blocks.length === 0) {
      return digest !== null ? digest.encodeDiff(doc, stateVector, pendingDeletes(), null) : Y.encodeStateAsUpdate(doc, stateVector)
    }
    // Pretend the peer holds every struct of a blocked client; the structs of that client it
    // lacks from before its first withheld write are in our unacknowledged writes: add those.
    const peer = decodeBounds(stateVector)
    const bounds = new Map(peer)
    let earlier = false
    for (const [client, from] of this.firstBlockedClocks()) {
      const has = peer.get(client) ?? 0
      bounds.set(client, Math.max(has, Y.getState(doc.store, client)))
      if (has < from) earlier = true
    }
    const main = digest !== null
      ? digest.encodeDiff(doc, encodeBounds(bounds), pendingDeletes(), this.blockedRanges())
      : Y.encodeStateAsUpdate(doc, encodeBounds(bounds))
    if (!earlier) return main
    const withheld = new Set(this.blocks.map((b) => b.write.seq))
    const below = unacknowledged().filter((e) => !withheld.has(e.seq)).map((e) => e.data)
    return below.length === 0 ? main : Y.mergeUpdates([main, Y.diffUpdate(Y.mergeUpdates(below), stateVector)])
  }

  /**
   * Forgets the refusal of `seq` and of every write held because of it; returns
   * their seqs. Call once their structs may travel (e.g. deleted, so tiny).
   */
  release(seq: number): number[] {
    const out: number[] = []
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const w = (this.blocks[i] as Block).write
      if (w.seq === seq || w.dependsOn === seq) {
        out.push(w.seq)
        this.blocks.splice(i, 1)
      }
    }
    return out
  }

  /** The blocked clock range of `seq`, for deleting its content. */
  rangeOf(seq: number): { client: number; from: number; to: number } | null {
    const b = this.blocks.find((x) => x.write.seq === seq)
    return b === undefined ? null : { client: b.client, from: b.from, to: b.to }
  }

  private blockAt(client: number, clock: number, len: number): Block | null {
    for (const b of this.blocks) if (b.client === client && clock < b.to && clock + len > b.from) return b
    return null
  }

  private firstBlockedClocks(): Map<number, number> {
    const out = new Map<number, number>()
    for (const b of this.blocks) out.set(b.client, Math.min(out.get(b.client) ?? Infinity, b.from))
    return out
  }

  private blockedRanges(): DeleteRanges {
    const out: DeleteRanges = new Map()
    for (const b of this.blocks) {
      const list = out.get(b.client) ?? []
      list.push([b.from, b.to - b.from])
      list.sort((x, y) => x[0] - y[0])
      out.set(b.client, list)
    }
    return out
  }
}
