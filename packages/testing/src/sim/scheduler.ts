import type { Clock, ClockTimer } from '@meridian/base'

/** Simulated time starts here (2026-01-01T00:00:00Z), so epoch-based code sees plausible dates. */
export const SIM_EPOCH_MS = 1_767_225_600_000

/** How one node's clock differs from the simulation's: an offset and a rate (1 = exact). */
export interface ClockSkew {
  offsetMs: number
  rate: number
}

const NO_SKEW: ClockSkew = { offsetMs: 0, rate: 1 }

interface SimEvent {
  atMs: number
  /** Tie-break: events due at the same time run in the order they were scheduled. */
  seq: number
  run: () => void
  owner: string | null
  cancelled: boolean
  /** Interval period, for timers that repeat. */
  everyMs: number | null
}

/** Binary min-heap on (atMs, seq). */
class EventHeap {
  private readonly items: SimEvent[] = []
  get size(): number {
    return this.items.length
  }
  peek(): SimEvent | undefined {
    return this.items[0]
  }
  push(e: SimEvent): void {
    const a = this.items
    a.push(e)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(a[i] as SimEvent, a[p] as SimEvent)) break
      ;[a[i], a[p]] = [a[p] as SimEvent, a[i] as SimEvent]
      i = p
    }
  }
  pop(): SimEvent | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last !== undefined) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && before(a[l] as SimEvent, a[m] as SimEvent)) m = l
        if (r < a.length && before(a[r] as SimEvent, a[m] as SimEvent)) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m] as SimEvent, a[i] as SimEvent]
        i = m
      }
    }
    return top
  }
}

const before = (x: SimEvent, y: SimEvent): boolean => x.atMs < y.atMs || (x.atMs === y.atMs && x.seq < y.seq)

/** Lets every promise continuation queued so far run (the code under test is async), without a timer. */
export const drainMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * The simulation's single event queue: timers of every relay and client and
 * every network delivery. Nothing runs unless the test steps it, so a run is
 * a pure function of the seed and the test's actions.
 */
export class Scheduler {
  private readonly heap = new EventHeap()
  private nowMs = SIM_EPOCH_MS
  private seq = 0
  private readonly owned = new Map<string, Set<SimEvent>>()
  /** Events run so far. */
  executed = 0
  /** Called after every event (and its promise continuations); what it throws fails the step. */
  afterStep: (() => void) | null = null

  now(): number {
    return this.nowMs
  }

  /** Simulated milliseconds since the start. */
  get elapsedMs(): number {
    return this.nowMs - SIM_EPOCH_MS
  }

  schedule(delayMs: number, run: () => void, owner: string | null = null, everyMs: number | null = null): SimEvent {
    const e: SimEvent = { atMs: this.nowMs + Math.max(0, delayMs), seq: this.seq++, run, owner, cancelled: false, everyMs }
    this.heap.push(e)
    if (owner !== null) {
      let set = this.owned.get(owner)
      if (set === undefined) this.owned.set(owner, (set = new Set()))
      set.add(e)
    }
    return e
  }

  cancel(e: SimEvent): void {
    e.cancelled = true
    if (e.owner !== null) this.owned.get(e.owner)?.delete(e)
  }

  /** Cancels every timer of `owner` (a crashed relay's). */
  cancelOwner(owner: string): void {
    for (const e of this.owned.get(owner) ?? []) e.cancelled = true
    this.owned.delete(owner)
  }

  /** When the next live event is due, or null when nothing is scheduled. */
  nextAtMs(): number | null {
    for (;;) {
      const top = this.heap.peek()
      if (top === undefined) return null
      if (!top.cancelled) return top.atMs
      this.heap.pop()
    }
  }

  /** Runs the next event (if due by `limitMs`), then lets its promise continuations run. False when none. */
  async step(limitMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const at = this.nextAtMs()
    if (at === null || at > limitMs) return false
    const e = this.heap.pop() as SimEvent
    this.nowMs = Math.max(this.nowMs, e.atMs)
    if (e.everyMs !== null) {
      // Re-arm before running, so clearInterval inside the callback wins.
      e.atMs = this.nowMs + e.everyMs
      e.seq = this.seq++
      this.heap.push(e)
    } else if (e.owner !== null) {
      this.owned.get(e.owner)?.delete(e)
    }
    this.executed++
    e.run()
    // Work started at one instant finishes before time moves on; events of the same instant only yield to promise continuations.
    const next = this.nextAtMs()
    if (next === null || next > this.nowMs) await drainMicrotasks()
    else await Promise.resolve()
    this.afterStep?.()
    return true
  }

  /** Moves time forward to `atMs` (when no event is due before). */
  advanceTo(atMs: number): void {
    if (atMs > this.nowMs) this.nowMs = atMs
  }

  /**
   * A Clock for relays and clients; timers belong to `owner` so a crash can cancel
   * them all. With `skew`, the clock reads `offsetMs` off the simulation's time and
   * runs at `rate` (1.0001: 100 ppm fast): its timers fire after `ms / rate` of
   * simulated time, and `now()` is whole ms.
   */
  clockFor(owner: string, skew: ClockSkew = NO_SKEW): Clock {
    const cancel = (t: ClockTimer | null | undefined): void => {
      if (t !== null && t !== undefined) this.cancel(t as SimEvent)
    }
    if (skew.offsetMs === 0 && skew.rate === 1) {
      return {
        now: () => this.nowMs,
        setTimeout: (fn, ms) => this.schedule(ms, fn, owner),
        clearTimeout: cancel,
        setInterval: (fn, ms) => this.schedule(Math.max(1, ms), fn, owner, Math.max(1, ms)),
        clearInterval: cancel
      }
    }
    const { offsetMs, rate } = skew
    if (!(rate > 0.5 && rate < 2) || !Number.isFinite(offsetMs)) throw new RangeError(`clock skew out of range: offset ${offsetMs} ms, rate ${rate}`)
    const real = (ms: number): number => Math.ceil(Math.max(0, ms) / rate)
    return {
      now: () => Math.floor(SIM_EPOCH_MS + offsetMs + (this.nowMs - SIM_EPOCH_MS) * rate),
      setTimeout: (fn, ms) => this.schedule(real(ms), fn, owner),
      clearTimeout: cancel,
      setInterval: (fn, ms) => this.schedule(Math.max(1, real(ms)), fn, owner, Math.max(1, real(ms))),
      clearInterval: cancel
    }
  }
}
