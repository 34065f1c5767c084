/**
 * Which of a connection's writes other regions hold (FEATURE_REPLICATION):
 * `replicated(k, n)` says the connection's first n update-bearing messages
 * are committed in at least k other regions. Reports are coalesced per burst
 * of commits and confirmations, and each level resumes where it was last
 * reported, so a partition that piles writes up costs one look per level.
 */
import type { RelayGuarantees } from './guarantees.js'

export interface ReplicationProgressOptions {
  /** How many other regions hold a tracked write (only `heldBy` is used). */
  guarantees: Pick<RelayGuarantees, 'heldBy'>
  /** Messages 1..committed() of the connection are committed here. */
  committed: () => number
  /** Sends `replicated(regions, upTo)` to the client. */
  report: (regions: number, upTo: number) => void
}

export class ReplicationProgress {
  private readonly options: ReplicationProgressOptions
  /** [message number, tracked write] for the connection's writes, until every region holds them. */
  private readonly writes: [number, number][] = []
  /** Per region count k: the highest message number reported as held by k other regions (made on the first report). */
  private reported: Map<number, number> | null = null
  private scheduled = false

  constructor(options: ReplicationProgressOptions) {
    this.options = options
  }

  /** Message `message` of the connection became tracked write `tracked` (numbered by the mesh). */
  note(message: number, tracked: number): void {
    this.writes.push([message, tracked])
  }

  /** Something may have advanced (a commit here, a confirmation from a region): report once per burst. */
  schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.report()
    })
  }

  private report(): void {
    const g = this.options.guarantees
    const writes = this.writes
    const last = writes[writes.length - 1]
    if (last === undefined) return
    const committed = this.options.committed()
    const levels = g.heldBy(last[1]).total
    for (let k = 1; k <= levels; k++) {
      const reported = this.reported?.get(k) ?? 0
      let upTo = reported
      for (let i = firstAfter(writes, reported); i < writes.length; i++) {
        const [msg, tracked] = writes[i] as [number, number]
        // Only what is committed here can be reported as held elsewhere.
        if (msg > committed || g.heldBy(tracked).held < k) break
        upTo = msg
      }
      if (upTo > reported) {
        (this.reported ??= new Map()).set(k, upTo)
        this.options.report(k, upTo)
      }
      // Level k+1 cannot get further than level k.
      if (upTo === 0) break
    }
    // Forget writes every region holds, except the last (it anchors the prefix).
    while (writes.length > 1) {
      const first = writes[0] as [number, number]
      const h = g.heldBy(first[1])
      if (h.held < h.total || first[0] > committed) break
      writes.shift()
    }
  }
}

/** Index of the first entry whose message number is above `msg` (entries sorted by it). */
function firstAfter(writes: readonly [number, number][], msg: number): number {
  let lo = 0
  let hi = writes.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((writes[mid] as [number, number])[0] <= msg) lo = mid + 1
    else hi = mid
  }
  return lo
}
