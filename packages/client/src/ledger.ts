import { MeridianError } from './errors.js'
import type { Waiters } from './waiters.js'

/**
 * How safe a local write is: `local` (committed to the local store), `relay`
 * (committed to the relay's storage), `{ replicated: k }` (committed in at
 * least k other regions too).
 */
export type DurabilityLevel = 'local' | 'relay' | { replicated: number }

/**
 * A local write the relay has not acknowledged. Numbered locally (`seq`); the
 * store key arrives later, once the local write commits — sending never waits for it.
 */
export interface LedgerEntry {
  readonly seq: number
  readonly data: Uint8Array
  /** Key in the client store's pending list; null until the local write commits (or if it failed). */
  key: number | null
  acked: boolean
  /** Local time it was written (for the oldest-pending-age bound). */
  readonly atMs: number
}

/**
 * The one ledger of local writes: the unacknowledged ones (what reconnects
 * resend and the policy counts) and how far every write got. Writes are
 * committed locally and acknowledged in order, so "every write up to seq n has
 * level L" is one watermark per level; writes withheld from the relay (see
 * WriteGate) are the exception, tracked by seq. Waiters (shared with the
 * provider) are checked whenever a watermark moves.
 */
export class Ledger {
  private entries: LedgerEntry[] = []
  private nextSeq = 1
  private bytes = 0
  private readonly seqOf = new WeakMap<Uint8Array, number>()
  private localThrough = 0
  private relayThrough = 0
  /** replicatedThrough[k]: every write up to it is held by at least k other regions. */
  private readonly replicatedThrough = new Map<number, number>()
  private readonly failedLocal = new Set<number>()
  /** Writes withheld from the relay: no relay watermark covers them. */
  private readonly held = new Set<number>()
  /** Formerly withheld writes: sent with the update covering this seq, so acknowledged only once it is. */
  private readonly coveredFrom = new Map<number, number>()

  constructor(private readonly waiters: Waiters, private readonly onChange: () => void = () => {}) {}

  /** Unacknowledged writes. */
  get size(): number {
    return this.entries.length
  }

  get byteLength(): number {
    return this.bytes
  }

  /** The seq of the newest write: an update sent now covers every write up to it. */
  get highWaterMark(): number {
    return this.nextSeq - 1
  }

  oldest(): LedgerEntry | undefined {
    return this.entries[0]
  }

  /** The unacknowledged writes, oldest first. */
  unacknowledged(): readonly LedgerEntry[] {
    return this.entries
  }

  /**
   * Records a write. `restored`: read back from the local store after a reload
   * (already local, under its store key); otherwise a new write of the document,
   * found again by the update object the doc emitted.
   */
  add(data: Uint8Array, atMs: number, restored: { key: number } | null = null): LedgerEntry {
    const entry: LedgerEntry = { seq: this.nextSeq++, data, key: restored?.key ?? null, acked: false, atMs }
    this.entries.push(entry)
    this.bytes += data.byteLength
    if (restored !== null) this.localThrough = Math.max(this.localThrough, entry.seq)
    else this.seqOf.set(data, entry.seq)
    return entry
  }

  /** The local write of `seq` committed (`ok`) or failed. */
  markLocal(seq: number, ok: boolean): void {
    if (!ok) this.failedLocal.add(seq)
    else this.localThrough = Math.max(this.localThrough, seq)
    this.changed()
  }

  /**
   * The relay committed every write up to `upToSeq`: removes and returns those
   * entries, except the withheld ones (never sent: an ack cannot cover them).
   */
  acknowledge(upToSeq: number): LedgerEntry[] {
    const done: LedgerEntry[] = []
    const kept: LedgerEntry[] = []
    for (const e of this.entries) (e.seq <= upToSeq && !this.held.has(e.seq) ? done : kept).push(e)
    this.entries = kept
    for (const e of done) {
      e.acked = true
      this.bytes -= e.data.byteLength
    }
    if (upToSeq > this.relayThrough) this.relayThrough = upToSeq
    this.changed()
    return done
  }

  markReplicated(regions: number, throughSeq: number): void {
    for (let k = 1; k <= regions; k++) {
      if ((this.replicatedThrough.get(k) ?? 0) < throughSeq) this.replicatedThrough.set(k, throughSeq)
    }
    this.changed()
  }

  /** A write is withheld from the relay: the relay watermarks pass it by. */
  hold(seq: number): void {
    this.held.add(seq)
  }

  isHeld(seq: number): boolean {
    return this.held.has(seq)
  }

  /** A withheld write goes out with the next update, which covers writes up to `coveredBySeq`. */
  release(seq: number, coveredBySeq: number): void {
    if (!this.held.delete(seq)) return
    this.coveredFrom.set(seq, coveredBySeq)
    this.changed()
  }

  /** The level a write (the update the doc emitted, or 'all' for every write so far) has reached: the highest that holds. */
  levelOf(target: Uint8Array | 'all'): DurabilityLevel | 'pending' {
    const seq = this.resolveSeq(target)
    if (seq === null) return 'pending'
    const all = target === 'all'
    let best: DurabilityLevel | 'pending' = this.reached(seq, 'local', all) ? 'local' : 'pending'
    if (this.reached(seq, 'relay', all)) best = 'relay'
    for (const k of [...this.replicatedThrough.keys()].sort((a, b) => a - b)) {
      if (this.reached(seq, { replicated: k }, all)) best = { replicated: k }
    }
    return best
  }

  whenDurable(target: Uint8Array | 'all', level: DurabilityLevel, timeoutMs?: number): Promise<void> {
    const seq = this.resolveSeq(target)
    if (seq === null) return Promise.reject(new MeridianError('ERR_OPTIONS', 'not a local write (pass the update the doc emitted, or "all")'))
    return this.waiters.waitFor({
      done: () => this.reached(seq, level, target === 'all'),
      failed: () => (level === 'local' && this.failedLocal.has(seq) ? new MeridianError('ERR_PERSISTENCE', 'this write was not stored locally') : null),
      what: typeof level === 'string' ? `durable at ${level}` : `replicated in ${level.replicated} regions`
    }, timeoutMs)
  }

  private changed(): void {
    this.waiters.check()
    this.onChange()
  }

  private resolveSeq(target: Uint8Array | 'all'): number | null {
    return target === 'all' ? this.highWaterMark : this.seqOf.get(target) ?? null
  }

  /** Whether write `seq` (with `all`: every write up to it) has reached `level`. */
  private reached(seq: number, level: DurabilityLevel, all: boolean): boolean {
    if (level !== 'local' && this.held.size + this.coveredFrom.size > 0 && !this.beyondHeld(seq, level, all)) return false
    if (seq === 0) return true
    if (level === 'local') return seq <= this.localThrough || seq <= this.relayThrough
    if (level === 'relay') return seq <= this.relayThrough
    return seq <= (this.replicatedThrough.get(level.replicated) ?? 0)
  }

  /** False while `seq` (with `all`: any write up to it) is withheld or sent but not yet acknowledged. */
  private beyondHeld(seq: number, level: DurabilityLevel, all: boolean): boolean {
    const through = level === 'relay' ? this.relayThrough : typeof level === 'string' ? Infinity : this.replicatedThrough.get(level.replicated) ?? 0
    for (const h of this.held) if (h === seq || (all && h <= seq)) return false
    for (const [s, from] of this.coveredFrom) if (through < from && (s === seq || (all && s <= seq))) return false
    return true
  }
}
