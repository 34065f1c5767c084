import * as Y from 'yjs'
import type { ClusterClient } from '../cluster-types.js'
import { KitError } from '../assertions.js'
import { SIM_EPOCH_MS } from './scheduler.js'

/** One acknowledged write: when (simulation time) its writer learned the relay committed it. */
interface AckedWrite {
  writer: ClusterClient
  /** The n-th write of its client, from 1. */
  index: number
  update: Uint8Array
  /** For each Yjs client id the write has structs of: the clock just past them. */
  structsTo: [client: number, clock: number][]
  /** The write deletes something: a state-vector check is not enough. */
  hasDeletes: boolean
  ackedAtMs: number
}

interface Watched {
  client: ClusterClient
  /** Writes of its document in ack order; every one before `upTo` is present in the client. */
  writes: AckedWrite[]
  upTo: number
  /** Present writes at or past `upTo` (out of order). */
  present: Set<AckedWrite>
}

export interface HonestyReport {
  /** Checks made (one per client per step). */
  checks: number
  /** Acknowledged writes followed. */
  writes: number
  /** Client-steps whose bound was a number (not unbounded). */
  bounded: number
  /** The smallest margin seen, in ms: (now − bound) − ack time, over every write a check required (0: exactly on the edge). */
  tightestMs: number | null
}

/**
 * The bounded-staleness promise, checked at every step: for every client whose
 * `provider.policy.stalenessBoundMs` is a number B at simulation time t, every
 * write acknowledged (its writer's provider saw the relay's ack) at or before
 * t − B is in that client's document. Times are the simulation's true time; B is
 * what the client reports on its own (possibly skewed) clock.
 */
export class StalenessHonesty {
  private readonly watched = new Map<ClusterClient, Watched>()
  private readonly counts = new Map<ClusterClient, number>()
  private stopped = false
  private readonly stats: HonestyReport = { checks: 0, writes: 0, bounded: 0, tightestMs: null }

  constructor(private readonly now: () => number, private readonly seed: number) {}

  /** Follow a client (its bound is checked from now on). */
  addClient(client: ClusterClient): void {
    if (this.watched.has(client)) return
    this.watched.set(client, { client, writes: [], upTo: 0, present: new Set() })
  }

  /** A write by `writer`: followed once its writer's provider reports it acknowledged. */
  addWrite(writer: ClusterClient, update: Uint8Array): void {
    const index = (this.counts.get(writer) ?? 0) + 1
    this.counts.set(writer, index)
    const meta = Y.parseUpdateMeta(update)
    const structsTo = [...meta.to.entries()]
    const hasDeletes = Y.decodeUpdate(update).ds.clients.size > 0
    writer.provider.whenDurable(update, 'relay').then(() => {
      if (this.stopped) return
      const w: AckedWrite = { writer, index, update, structsTo, hasDeletes, ackedAtMs: this.now() }
      this.stats.writes++
      for (const v of this.watched.values()) if (v.client.docName === writer.docName) v.writes.push(w)
    }, () => undefined)
  }

  stop(): void {
    this.stopped = true
  }

  get report(): HonestyReport {
    return { ...this.stats }
  }

  /** Checks every client now; throws ERR_DISHONEST_STALENESS naming the first missing write. */
  check(): void {
    if (this.stopped) return
    const t = this.now()
    for (const v of this.watched.values()) {
      this.stats.checks++
      const bound = v.client.provider.policy.stalenessBoundMs
      if (bound === null) continue
      this.stats.bounded++
      const cutoff = t - bound
      for (let i = v.upTo; i < v.writes.length; i++) {
        const w = v.writes[i] as AckedWrite
        if (w.ackedAtMs > cutoff) break
        if (v.present.has(w)) continue
        if (!contains(v.client.doc, w)) {
          const policy = v.client.provider.policy
          throw new KitError('ERR_DISHONEST_STALENESS', [
            `client ${v.client.id} reports stalenessBoundMs ${bound.toFixed(1)} (mode ${policy.mode}) at t=${t - SIM_EPOCH_MS} ms but lacks`,
            `write #${w.index} of client ${w.writer.id}, acknowledged ${(t - w.ackedAtMs).toFixed(1)} ms earlier (at or before now − bound by ${(cutoff - w.ackedAtMs).toFixed(1)} ms)`
          ].join(' '), this.seed)
        }
        v.present.add(w)
        const slack = cutoff - w.ackedAtMs
        if (this.stats.tightestMs === null || slack < this.stats.tightestMs) this.stats.tightestMs = slack
      }
      while (v.upTo < v.writes.length && v.present.has(v.writes[v.upTo] as AckedWrite)) v.present.delete(v.writes[v.upTo++] as AckedWrite)
    }
  }
}

function contains(doc: Y.Doc, w: AckedWrite): boolean {
  for (const [client, clock] of w.structsTo) if (Y.getState(doc.store, client) < clock) return false
  return !w.hasDeletes || Y.snapshotContainsUpdate(Y.snapshot(doc), w.update)
}
