import * as Y from 'yjs'
import { decodeBounds, encodeBounds, frame, type DeleteRanges } from '@meridian/protocol'
import type { DeleteDigest } from './delete-digest.js'
import type { RefusalReason, RefusedWrite } from './write-gate.js'

interface Block {
  write: RefusedWrite
  /** Yjs client id and the clock range [from, to) of its structs (empty for a pure deletion). */
  client: number
  from: number
  to: number
  /** For 'write-refused': the write's deletes, withheld from everything sent. */
  deletes: DeleteRanges | null
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
  /** Deletes of dropped 'write-refused' writes: the relay refuses them for good, so they are never sent. */
  private readonly droppedDeletes: DeleteRanges[] = []

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
   * the refusal, or null if there is nothing to hold back: no struct of that
   * client (e.g. a pure deletion, which is small) and, for 'write-refused', no delete.
   */
  refuse(seq: number, update: Uint8Array, client: number, reason: RefusalReason, dependsOn: number | null = null): RefusedWrite | null {
    const meta = Y.parseUpdateMeta(update)
    const from = meta.from.get(client) ?? 0
    const to = Math.max(from, meta.to.get(client) ?? 0)
    const deletes = reason === 'write-refused' ? deletesOf(update) : null
    if (to <= from && (deletes === null || deletes.size === 0)) return null
    const write: RefusedWrite = { seq, bytes: update.byteLength, reason, dependsOn, update }
    this.blocks.push({ write, client, from, to, deletes })
    return write
  }

  /**
   * Withholds every delete `doc` holds now: for a write refusal no pending write
   * explains (e.g. a write dropped before a reload, now only in the local copy).
   */
  withholdAllDeletes(doc: Y.Doc): void {
    this.droppedDeletes.push(deletesOfDoc(doc))
  }

  /** `update` (deletes only) without the withheld deletes; null if nothing is left. */
  sendableDeletes(update: Uint8Array): Uint8Array | null {
    const withheld = this.withheldDeletes()
    if (withheld === null) return update
    const rest = subtract(deletesOf(update), withheld)
    return rest.size === 0 ? null : encodeUpdate(new Uint8Array([0]), rest)
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
   * `pendingDeletes` are our unacknowledged ones. With nothing withheld (`withholding`
   * false) the usual encoding does the same, cheaper.
   */
  encodeDiff(
    doc: Y.Doc,
    stateVector: Uint8Array,
    digest: DeleteDigest | null,
    pendingDeletes: () => DeleteRanges[],
    unacknowledged: () => readonly { seq: number; data: Uint8Array }[]
  ): Uint8Array {
    const withheldDeletes = this.withheldDeletes()
    if (this.blocks.length === 0 && withheldDeletes === null) {
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
    // Without the digest a diff carries the whole delete set: all of it but the withheld deletes.
    const main = digest !== null
      ? digest.encodeDiff(doc, encodeBounds(bounds), pendingDeletes(), this.blockedRanges())
      : withoutDeletes(doc, encodeBounds(bounds), withheldDeletes)
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
        const deletes = (this.blocks[i] as Block).deletes
        if (deletes !== null) this.droppedDeletes.push(deletes)
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
    for (const b of this.blocks) if (b.to > b.from) out.set(b.client, Math.min(out.get(b.client) ?? Infinity, b.from))
    return out
  }

  /** Every delete never to be sent ('write-refused' writes, held or dropped), or null if there is none. */
  private withheldDeletes(): DeleteRanges | null {
    const all = [...this.droppedDeletes, ...this.blocks.flatMap((b) => (b.deletes === null ? [] : [b.deletes]))]
    return all.length === 0 ? null : union(all)
  }

  private blockedRanges(): DeleteRanges {
    const structs: DeleteRanges = new Map()
    for (const b of this.blocks) {
      if (b.to <= b.from) continue
      const list = structs.get(b.client) ?? []
      list.push([b.from, b.to - b.from])
      list.sort((x, y) => x[0] - y[0])
      structs.set(b.client, list)
    }
    const withheld = this.withheldDeletes()
    return withheld === null ? structs : union([structs, withheld])
  }
}

// Delete ranges kept lean here: the digest entry has the full set (protocol's delete-ranges.ts), which this entry need not carry.

/** The deletes an update carries, normalised. */
const deletesOf = (update: Uint8Array): DeleteRanges =>
  union([new Map([...Y.decodeUpdate(update).ds.clients].map(([client, items]) => [client, items.map((i): [number, number] => [i.clock, i.len])]))])

const deletesOfDoc = (doc: Y.Doc): DeleteRanges =>
  new Map([...Y.createDeleteSetFromStructStore(doc.store).clients].map(([c, items]) => [c, items.map((i): [number, number] => [i.clock, i.len])]))

/** Union, normalised (per client sorted, overlaps merged, empty dropped). */
function union(sets: readonly DeleteRanges[]): DeleteRanges {
  const out: DeleteRanges = new Map()
  for (const set of sets) for (const [client, list] of set) out.set(client, [...(out.get(client) ?? []), ...list])
  for (const [client, list] of out) {
    const merged: [number, number][] = []
    for (const [clock, len] of list.filter((r) => r[1] > 0).sort((a, b) => a[0] - b[0])) {
      const last = merged[merged.length - 1]
      if (last !== undefined && clock <= last[0] + last[1]) last[1] = Math.max(last[1], clock + len - last[0])
      else merged.push([clock, len])
    }
    if (merged.length > 0) out.set(client, merged)
    else out.delete(client)
  }
  return out
}

/** `a` without `b`. */
function subtract(a: DeleteRanges, b: DeleteRanges): DeleteRanges {
  const out: DeleteRanges = new Map()
  for (const [client, list] of a) {
    let kept = list
    for (const [c, l] of b.get(client) ?? []) {
      kept = kept.flatMap(([x, n]): [number, number][] => [
        ...(x < c ? [[x, Math.min(n, c - x)] as [number, number]] : []),
        ...(x + n > c + l ? [[Math.max(x, c + l), x + n - Math.max(x, c + l)] as [number, number]] : [])
      ])
    }
    if (kept.length > 0) out.set(client, kept)
  }
  return out
}

/** A V1 update: `structs` (its struct section), then `deletes` as Yjs writes a delete set (varUints: `frame`). */
function encodeUpdate(structs: Uint8Array, deletes: DeleteRanges): Uint8Array {
  const fields: number[] = [deletes.size]
  for (const [client, list] of [...deletes].sort((x, y) => y[0] - x[0])) {
    fields.push(client, list.length)
    for (const [clock, len] of list) fields.push(clock, len)
  }
  const tail = frame(fields)
  const out = new Uint8Array(structs.length + tail.length)
  out.set(structs)
  out.set(tail, structs.length)
  return out
}

/** What a peer at `stateVector` lacks of `doc` (V1), its whole delete set but `withheld` (null: all of it). */
function withoutDeletes(doc: Y.Doc, stateVector: Uint8Array, withheld: DeleteRanges | null): Uint8Array {
  const full = Y.encodeStateAsUpdate(doc, stateVector)
  if (withheld === null) return full
  // A V1 update is its structs, then the delete set; the latter alone is what a peer holding every struct gets.
  const tail = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(doc)).subarray(1)
  const head = full.subarray(0, full.length - tail.length)
  // Should Yjs lay it out otherwise (pending structs merged in), nothing is sent rather than the refused deletes.
  if (head.length < 1 || full.subarray(head.length).some((b, i) => b !== tail[i])) return new Uint8Array([0, 0])
  return encodeUpdate(head, subtract(deletesOfDoc(doc), withheld))
}
