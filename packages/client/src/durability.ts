import { systemClock, type Clock, type ClockTimer } from '@meridian/policy'
import { MeridianError } from './errors.js'

/**
 * How safe a local write is: `local` (committed to the local store), `relay`
 * (committed to the relay's storage), `{ replicated: k }` (committed in at
 * least k other regions too).
 */
export type DurabilityLevel = 'local' | 'relay' | { replicated: number }

interface Waiter {
  seq: number
  level: DurabilityLevel
  resolve: () => void
  reject: (e: MeridianError) => void
  timer: ClockTimer | null
}

/**
 * Watermarks over the outbox's sequence numbers: writes are committed locally
 * and acknowledged in order, so "every write up to seq n has level L" is one
 * number per level. Waiters resolve as the watermarks pass them.
 */
export class DurabilityTracker {
  constructor(private readonly clock: Clock = systemClock) {}

  private readonly seqOf = new WeakMap<Uint8Array, number>()
  private localThrough = 0
  private relayThrough = 0
  /** replicatedThrough[k]: every write up to it is held by at least k other regions. */
  private readonly replicatedThrough = new Map<number, number>()
  private readonly failedLocal = new Set<number>()
  private readonly waiters = new Set<Waiter>()
  private highWater = 0
  /** Writes withheld from the relay (see RefusedWrites): no watermark covers them. */
  private readonly held = new Set<number>()
  /** Formerly withheld writes: sent with the update covering this seq, so acknowledged only once it is. */
  private readonly coveredFrom = new Map<number, number>()

  /** A write is withheld from the relay: the relay watermarks pass it by. */
  hold(seq: number): void {
    this.held.add(seq)
  }

  /** A withheld write goes out with the next update, which covers outbox seqs up to `coveredBySeq`. */
  release(seq: number, coveredBySeq: number): void {
    if (!this.held.delete(seq)) return
    this.coveredFrom.set(seq, coveredBySeq)
    this.check()
  }

  /** Registers a local write (the update object the doc emitted) under its outbox seq. */
  track(update: Uint8Array, seq: number): void {
    this.seqOf.set(update, seq)
    this.highWater = Math.max(this.highWater, seq)
  }

  /** Writes restored from the store after a reload are already local. */
  restored(seq: number): void {
    this.highWater = Math.max(this.highWater, seq)
    this.localThrough = Math.max(this.localThrough, seq)
  }

  markLocal(seq: number, ok: boolean): void {
    if (!ok) this.failedLocal.add(seq)
    else this.localThrough = Math.max(this.localThrough, seq)
    this.check()
  }

  markRelay(throughSeq: number): void {
    if (throughSeq <= this.relayThrough) return
    this.relayThrough = throughSeq
    this.check()
  }

  markReplicated(regions: number, throughSeq: number): void {
    for (let k = 1; k <= regions; k++) {
      if ((this.replicatedThrough.get(k) ?? 0) < throughSeq) this.replicatedThrough.set(k, throughSeq)
    }
    this.check()
  }

  /** The level a write has reached: the highest that holds. */
  levelOf(target: Uint8Array | 'all'): DurabilityLevel | 'pending' {
    const seq = this.resolveSeq(target)
    if (seq === null) return 'pending'
    let best: DurabilityLevel | 'pending' = this.reached(seq, 'local') ? 'local' : 'pending'
    if (this.reached(seq, 'relay')) best = 'relay'
    for (const k of [...this.replicatedThrough.keys()].sort((a, b) => a - b)) {
      if (this.reached(seq, { replicated: k })) best = { replicated: k }
    }
    return best
  }

  whenDurable(target: Uint8Array | 'all', level: DurabilityLevel, timeoutMs?: number): Promise<void> {
    const seq = this.resolveSeq(target)
    if (seq === null) return Promise.reject(new MeridianError('ERR_OPTIONS', 'not a local write of this provider (pass the update the doc emitted, or "all")'))
    if (this.reached(seq, level)) return Promise.resolve()
    if (level === 'local' && this.failedLocal.has(seq)) return Promise.reject(new MeridianError('ERR_PERSISTENCE', 'this write could not be stored locally'))
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { seq, level, resolve, reject, timer: null }
      if (timeoutMs !== undefined) {
        waiter.timer = this.clock.setTimeout(() => {
          this.waiters.delete(waiter)
          reject(new MeridianError('ERR_TIMEOUT', `write not ${describe(level)} within ${timeoutMs} ms`))
        }, timeoutMs)
      }
      this.waiters.add(waiter)
    })
  }

  destroy(): void {
    for (const w of this.waiters) {
      if (w.timer !== null) this.clock.clearTimeout(w.timer)
      w.reject(new MeridianError('ERR_DESTROYED', 'provider destroyed'))
    }
    this.waiters.clear()
  }

  private resolveSeq(target: Uint8Array | 'all'): number | null {
    if (target === 'all') return this.highWater
    return this.seqOf.get(target) ?? null
  }

  private reached(seq: number, level: DurabilityLevel): boolean {
    if (level !== 'local' && this.held.size + this.coveredFrom.size > 0 && !this.beyondHeld(seq, level)) return false
    if (seq === 0) return true
    if (level === 'local') return seq <= this.localThrough || seq <= this.relayThrough
    if (level === 'relay') return seq <= this.relayThrough
    return seq <= (this.replicatedThrough.get(level.replicated) ?? 0)
  }

  /** False while `seq` (or, for the newest seq — 'all' — any write) is withheld or sent but not yet acknowledged. */
  private beyondHeld(seq: number, level: DurabilityLevel): boolean {
    const through = level === 'relay' ? this.relayThrough : typeof level === 'string' ? Infinity : this.replicatedThrough.get(level.replicated) ?? 0
    const all = seq === this.highWater
    for (const h of this.held) if (h === seq || (all && h <= seq)) return false
    for (const [s, from] of this.coveredFrom) if (through < from && (s === seq || (all && s <= seq))) return false
    return true
  }

  private check(): void {
    for (const w of [...this.waiters]) {
      if (this.reached(w.seq, w.level)) {
        this.waiters.delete(w)
        if (w.timer !== null) this.clock.clearTimeout(w.timer)
        w.resolve()
      } else if (w.level === 'local' && this.failedLocal.has(w.seq)) {
        this.waiters.delete(w)
        if (w.timer !== null) this.clock.clearTimeout(w.timer)
        w.reject(new MeridianError('ERR_PERSISTENCE', 'this write could not be stored locally'))
      }
    }
  }
}

const describe = (level: DurabilityLevel): string => (typeof level === 'string' ? level : `replicated in ${level.replicated} regions`)
