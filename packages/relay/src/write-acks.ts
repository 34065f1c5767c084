/**
 * The numbering of one session's update-bearing messages, for cumulative
 * acknowledgements: ack(n) means the first n are durable. A refused write
 * stops acks before it for good (acks being cumulative, nothing after it can
 * be acknowledged). Records each write's ack latency when a histogram is given.
 */
import type { Histogram } from 'prom-client'

export class WriteAcks {
  /** Update-bearing messages received. */
  received = 0
  /** Messages 1..committed are durable (and acknowledgeable). */
  committed = 0
  /** First update-bearing message refused: acks stop before it. */
  private refusedAt: number | null = null
  /** Arrival times of messages not yet committed (null when none: most sessions are idle most of the time). */
  private arrivals: [seq: number, atMs: number][] | null = null

  constructor(private readonly latencySeconds: Histogram | null) {}

  /** A new update-bearing message: its number. */
  receive(): number {
    const seq = ++this.received
    if (this.latencySeconds !== null) (this.arrivals ??= []).push([seq, performance.now()])
    return seq
  }

  /** Message `seq` was refused (the first refusal counts). */
  refuse(seq: number): void {
    this.refusedAt ??= seq
  }

  get anyRefused(): boolean {
    return this.refusedAt !== null
  }

  /** Message `seq` is durable: whether that advanced what can be acknowledged. */
  commit(seq: number): boolean {
    if (seq <= this.committed) return false
    if (this.refusedAt !== null && seq >= this.refusedAt) return false
    this.committed = seq
    const arrivals = this.arrivals
    if (arrivals !== null) {
      const now = performance.now()
      while (arrivals.length > 0 && (arrivals[0]?.[0] ?? Infinity) <= seq) {
        const arrival = arrivals.shift()
        if (arrival !== undefined) this.latencySeconds?.observe((now - arrival[1]) / 1000)
      }
      // Drained: let go of the array (its backing store stays as large as the largest burst otherwise).
      if (arrivals.length === 0) this.arrivals = null
    }
    return true
  }
}
