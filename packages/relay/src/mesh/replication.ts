import * as Y from 'yjs'

/** Per other region: what this relay's own writes still wait for. */
export interface RegionBacklog {
  pendingUpdates: number
  pendingBytes: number
  oldestPendingMs: number | null
  /** Entries dropped from tracking because the backlog passed its cap: still pending, not itemised. */
  overflow: number
}

interface Pending {
  docName: string
  /** End clocks per client; empty for a delete-only update. */
  to: Map<number, number>
  bytes: number
  atMs: number
  seq: number
}

const MAX_TRACKED_PER_REGION = 100_000

/**
 * Which regions hold which writes. Each write accepted from a client here is
 * pending towards every other region until that region proves it holds it: a
 * push ack or an anti-entropy confirmation carries the region's state vector
 * for the document after commit; a write whose clocks the vector covers is
 * held there. (A delete-only update has no clocks: it is confirmed by the ack
 * of its own push, or by a confirmation for its document served after it.)
 */
export class ReplicationTracker {
  private readonly known = new Map<string, Map<string, Map<number, number>>>()
  private readonly pending = new Map<string, Pending[]>()
  private readonly overflow = new Map<string, number>()
  private nextSeq = 1
  /** Per tracked write: how many regions it was pending towards, and which still lack it. */
  private readonly perWrite = new Map<number, { total: number; missing: Set<string> }>()
  private readonly listeners = new Set<(docName: string, region: string) => void>()

  /** Registers a local write; returns its tracking sequence number. */
  addLocalWrite(docName: string, update: Uint8Array, regions: readonly string[], nowMs: number): number {
    const seq = this.nextSeq++
    let to: Map<number, number>
    try {
      to = Y.parseUpdateMeta(update).to
    } catch {
      to = new Map()
    }
    const missing = new Set<string>()
    this.perWrite.set(seq, { total: regions.length, missing })
    for (const region of regions) {
      let list = this.pending.get(region)
      if (list === undefined) this.pending.set(region, (list = []))
      if (this.isCovered(docName, region, to)) continue
      missing.add(region)
      list.push({ docName, to, bytes: update.byteLength, atMs: nowMs, seq })
      if (list.length > MAX_TRACKED_PER_REGION) {
        const dropped = list.shift()
        // No longer itemised: counted as pending, but its holders can no longer be told apart.
        if (dropped !== undefined) this.perWrite.delete(dropped.seq)
        this.overflow.set(region, (this.overflow.get(region) ?? 0) + 1)
      }
    }
    if (missing.size === 0) this.perWrite.delete(seq)
    return seq
  }

  /** Region `region` holds `docName` at `stateVector` (committed there). */
  confirm(docName: string, region: string, stateVector: Uint8Array, opts: { throughSeq?: number; seq?: number } = {}): void {
    let sv: Map<number, number>
    try {
      sv = Y.decodeStateVector(stateVector)
    } catch {
      return
    }
    let byRegion = this.known.get(docName)
    if (byRegion === undefined) this.known.set(docName, (byRegion = new Map()))
    const merged = byRegion.get(region) ?? new Map<number, number>()
    for (const [client, clock] of sv) merged.set(client, Math.max(clock, merged.get(client) ?? 0))
    byRegion.set(region, merged)
    const list = this.pending.get(region)
    if (list !== undefined) {
      const keep: Pending[] = []
      for (const p of list) {
        if (p.docName === docName && (this.covers(merged, p.to) || (opts.throughSeq !== undefined && p.seq <= opts.throughSeq) || p.seq === opts.seq)) {
          const w = this.perWrite.get(p.seq)
          w?.missing.delete(region)
          if (w !== undefined && w.missing.size === 0) this.perWrite.delete(p.seq)
        } else {
          keep.push(p)
        }
      }
      this.pending.set(region, keep)
    }
    for (const l of this.listeners) l(docName, region)
  }

  /** Sequence number of the newest local write so far (for "confirm everything up to now"). */
  get lastSeq(): number {
    return this.nextSeq - 1
  }

  /** How many other regions hold tracked write `seq` (all of them once it is no longer tracked). */
  heldBy(seq: number): { held: number; total: number } | null {
    const w = this.perWrite.get(seq)
    return w === undefined ? null : { held: w.total - w.missing.size, total: w.total }
  }

  backlog(region: string, nowMs: number): RegionBacklog {
    const list = this.pending.get(region) ?? []
    const first = list[0]
    return {
      pendingUpdates: list.length + (this.overflow.get(region) ?? 0),
      pendingBytes: list.reduce((n, p) => n + p.bytes, 0),
      oldestPendingMs: first === undefined ? null : nowMs - first.atMs,
      overflow: this.overflow.get(region) ?? 0
    }
  }

  onConfirm(listener: (docName: string, region: string) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private isCovered(docName: string, region: string, to: Map<number, number>): boolean {
    const sv = this.known.get(docName)?.get(region)
    return sv !== undefined && to.size > 0 && this.covers(sv, to)
  }

  private covers(sv: Map<number, number>, to: Map<number, number>): boolean {
    if (to.size === 0) return false
    for (const [client, clock] of to) if ((sv.get(client) ?? 0) < clock) return false
    return true
  }
}
