/**
 * One timer for many deadlines: a min-heap of items on the relay's clock.
 * A timer per socket and purpose (idle, token expiry, pre-auth) costs a
 * `Timeout`, a closure and its scope for every open socket — memory held for
 * hours by sockets that are mostly quiet. Here each item carries its own
 * deadline and heap position (two fields), and a single clock timer is armed
 * for the earliest one.
 *
 * Deadlines are exact (a due item is told at its deadline, not on a coarse
 * tick), so a simulated clock sees the same timing as with one timer each.
 */
import type { Clock, ClockTimer } from '@meridian/base'

/** What the heap needs on an item; `Deadlines` owns both fields. */
export interface Scheduled {
  /** Position in the heap, -1 when not scheduled. */
  deadlineIndex: number
  /** When it is due (clock milliseconds); meaningful while scheduled. */
  deadlineAt: number
}

/** setTimeout's largest delay; longer waits re-arm. */
const MAX_TIMER_MS = 2_147_483_647

export class Deadlines<T extends Scheduled> {
  private readonly heap: T[] = []
  private timer: ClockTimer | null = null
  /** The deadline the timer is armed for (Infinity: none). */
  private armedAt = Number.POSITIVE_INFINITY
  private firing = false

  /**
   * `onDue` is called once per item whose deadline passed, after it left the
   * heap; it may schedule the item again (e.g. the idle deadline moved).
   */
  constructor(private readonly clock: Clock, private readonly onDue: (item: T) => void) {}

  get size(): number {
    return this.heap.length
  }

  /** Schedules `item` at `at`, or moves it there if it is already scheduled. */
  set(item: T, at: number): void {
    const i = item.deadlineIndex
    if (i >= 0 && this.heap[i] === item) {
      const earlier = at < item.deadlineAt
      item.deadlineAt = at
      if (earlier) this.up(i)
      else this.down(i)
    } else {
      item.deadlineAt = at
      item.deadlineIndex = this.heap.length
      this.heap.push(item)
      this.up(item.deadlineIndex)
    }
    this.arm()
  }

  /** Unschedules `item` (no-op if it is not scheduled). */
  delete(item: T): void {
    const i = item.deadlineIndex
    if (i < 0 || this.heap[i] !== item) return
    item.deadlineIndex = -1
    const last = this.heap.pop() as T
    if (last !== item) {
      this.heap[i] = last
      last.deadlineIndex = i
      this.down(i)
      this.up(last.deadlineIndex)
    }
    if (this.heap.length === 0) this.disarm()
  }

  /** Drops every deadline and the timer (the relay is closing). */
  stop(): void {
    for (const item of this.heap) item.deadlineIndex = -1
    this.heap.length = 0
    this.disarm()
  }

  /** The timer fired: every item due by now leaves the heap and is told, then the timer follows the next deadline. */
  private fire(): void {
    this.timer = null
    this.armedAt = Number.POSITIVE_INFINITY
    this.firing = true
    try {
      const now = this.clock.now()
      for (let top = this.heap[0]; top !== undefined && top.deadlineAt <= now; top = this.heap[0]) {
        this.delete(top)
        this.onDue(top)
      }
    } finally {
      this.firing = false
      this.arm()
    }
  }

  /** Arms the timer for the earliest deadline if it is not armed for it (or earlier) already. */
  private arm(): void {
    if (this.firing) return
    const first = this.heap[0]
    if (first === undefined) {
      this.disarm()
      return
    }
    if (this.timer !== null && this.armedAt <= first.deadlineAt) return
    this.disarm()
    // A system timer may fire a little before the wall-clock deadline; fire() then finds nothing due and re-arms.
    const ms = Math.min(Math.max(first.deadlineAt - this.clock.now(), 0), MAX_TIMER_MS)
    this.armedAt = first.deadlineAt
    this.timer = this.clock.setTimeout(() => this.fire(), ms)
  }

  private disarm(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
    this.armedAt = Number.POSITIVE_INFINITY
  }

  private up(i: number): void {
    const heap = this.heap
    const item = heap[i] as T
    while (i > 0) {
      const p = (i - 1) >> 1
      const parent = heap[p] as T
      if (parent.deadlineAt <= item.deadlineAt) break
      heap[i] = parent
      parent.deadlineIndex = i
      i = p
    }
    heap[i] = item
    item.deadlineIndex = i
  }

  private down(i: number): void {
    const heap = this.heap
    const n = heap.length
    const item = heap[i] as T
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && (heap[r] as T).deadlineAt < (heap[l] as T).deadlineAt ? r : l
      const child = heap[c] as T
      if (child.deadlineAt >= item.deadlineAt) break
      heap[i] = child
      child.deadlineIndex = i
      i = c
    }
    heap[i] = item
    item.deadlineIndex = i
  }
}
