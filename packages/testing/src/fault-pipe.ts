/** One direction of one fault-proxy connection (see fault-proxy.ts). */
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { FaultProxyStats } from './fault-proxy-types.js'

/** Pause the source once this much is waiting in a latency queue. */
const QUEUE_HIGH_WATER = 1024 * 1024

export type Direction = 'to-target' | 'from-target'

/** What a pipe needs of its proxy. */
export interface PipeProxy {
  readonly stats: FaultProxyStats
  isBlocked(peer: string | null, direction: Direction): boolean
  latencyFor(peer: string | null): number
}

/** What a pipe needs of its connection. */
export interface PipeConnection {
  readonly peer: string | null
  bytesToTarget: number
  bytesFromTarget: number
}

interface QueueItem {
  /** null = end of stream */
  chunk: Buffer | null
  due: number
}

/** One direction of one connection: an order-preserving, delaying, filtering pump. */
export class Pipe {
  private readonly queue: QueueItem[] = []
  private queuedBytes = 0
  private timer: NodeJS.Timeout | undefined
  private waitingDrain = false
  private sourcePaused = false
  private ended = false
  private closed = false
  /** While true, nothing is delivered (connection not identified yet). */
  held: boolean

  constructor(
    private readonly proxy: PipeProxy,
    private readonly conn: PipeConnection,
    private readonly direction: Direction,
    private readonly src: Socket,
    private readonly dst: Socket,
    held: boolean
  ) {
    this.held = held
  }

  push(chunk: Buffer | null): void {
    if (this.closed || this.ended) return
    if (chunk === null) this.ended = true
    else this.queuedBytes += chunk.length
    this.queue.push({ chunk, due: performance.now() + this.proxy.latencyFor(this.conn.peer) })
    this.pump()
  }

  onDrain(): void {
    if (!this.waitingDrain) return
    this.waitingDrain = false
    this.pump()
  }

  pump(): void {
    if (this.closed) return
    if (!this.held && !this.waitingDrain) this.deliver()
    this.updateSourceFlow()
  }

  close(): void {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.queue.length = 0
    this.queuedBytes = 0
  }

  private deliver(): void {
    const { stats } = this.proxy
    while (this.queue.length > 0) {
      const item = this.queue[0]!
      const wait = item.due - performance.now()
      if (wait > 0) {
        this.arm(wait)
        return
      }
      const blocked = this.proxy.isBlocked(this.conn.peer, this.direction)
      if (item.chunk === null) {
        if (blocked) return // hold the FIN until heal
        this.queue.shift()
        if (!this.dst.destroyed && !this.dst.writableEnded) this.dst.end()
        continue
      }
      const chunk = item.chunk
      this.queue.shift()
      this.queuedBytes -= chunk.length
      if (blocked) {
        stats.droppedBytes += chunk.length
        continue
      }
      if (this.dst.destroyed || this.dst.writableEnded) continue // peer gone; connection is being torn down
      const ok = this.dst.write(chunk)
      if (this.direction === 'to-target') {
        this.conn.bytesToTarget += chunk.length
        stats.bytesToTarget += chunk.length
      } else {
        this.conn.bytesFromTarget += chunk.length
        stats.bytesFromTarget += chunk.length
      }
      const buffered = this.queuedBytes + this.dst.writableLength
      if (buffered > stats.maxBufferedBytes) stats.maxBufferedBytes = buffered
      if (!ok) {
        this.waitingDrain = true
        return
      }
    }
  }

  private arm(wait: number): void {
    if (this.timer !== undefined) return // already armed for the head (or earlier)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.pump()
    }, Math.max(1, Math.ceil(wait)))
  }

  private updateSourceFlow(): void {
    const shouldPause = !this.closed && (this.waitingDrain || this.queuedBytes >= QUEUE_HIGH_WATER)
    if (shouldPause && !this.sourcePaused) {
      this.sourcePaused = true
      this.proxy.stats.backpressurePauses++
      this.src.pause()
    } else if (!shouldPause && this.sourcePaused) {
      this.sourcePaused = false
      if (!this.src.destroyed) this.src.resume()
    }
  }
}
