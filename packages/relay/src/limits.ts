/**
 * Resource limits: token buckets per connection, connection counts per relay
 * and per IP, and the document size guard.
 */
import * as Y from 'yjs'
import type { Room } from './room.js'
import type { RateLimitOptions } from './hardening-options.js'

export type { RateLimitOptions } from './hardening-options.js'

/** A token bucket: `ratePerSecond` tokens flow in, at most `burst` are kept. Rate 0: unlimited. */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor(private readonly ratePerSecond: number, readonly burst: number, nowMs: number) {
    this.tokens = burst
    this.last = nowMs
  }

  get unlimited(): boolean {
    return this.ratePerSecond === 0
  }

  /** Takes `n` tokens (the bucket may go into debt); returns the debt afterwards (0: none). */
  take(n: number, nowMs: number): number {
    if (this.unlimited) return 0
    this.refill(nowMs)
    this.tokens -= n
    return this.tokens < 0 ? -this.tokens : 0
  }

  /** Milliseconds until the bucket is out of debt. */
  msUntilRepaid(nowMs: number): number {
    if (this.unlimited) return 0
    this.refill(nowMs)
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.ratePerSecond) * 1000)
  }

  /** Milliseconds until `n` tokens are there (0: now). */
  msUntilAvailable(n: number, nowMs: number): number {
    if (this.unlimited) return 0
    this.refill(nowMs)
    return this.tokens >= n ? 0 : Math.ceil(((n - this.tokens) / this.ratePerSecond) * 1000)
  }

  /** Refilled to its burst: it holds nothing a new bucket would not. */
  isFull(nowMs: number): boolean {
    if (this.unlimited) return true
    this.refill(nowMs)
    return this.tokens >= this.burst
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.last)
    this.last = nowMs
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.ratePerSecond)
  }
}

export type RateVerdict =
  /** Within the rate. */
  | { kind: 'ok' }
  /** Over it: stop reading from the socket for `ms` (TCP then slows the sender). */
  | { kind: 'pause'; ms: number }
  /** More than a whole burst in debt (frames that were already in flight kept coming): close. */
  | { kind: 'exceeded'; what: 'messages' | 'bytes' }

/** A connection's message and byte buckets. */
export class ConnectionRateLimiter {
  private readonly messages: TokenBucket
  private readonly bytes: TokenBucket

  /**
   * The limiter for a new connection: with both rates unlimited the buckets
   * hold no state, so every such connection shares one.
   */
  static for(options: RateLimitOptions, nowMs: number): ConnectionRateLimiter {
    if (options.messagesPerSecond === 0 && options.bytesPerSecond === 0) return UNLIMITED
    return new ConnectionRateLimiter(options, nowMs)
  }

  constructor(options: RateLimitOptions, nowMs: number) {
    this.messages = new TokenBucket(options.messagesPerSecond, options.burstMessages, nowMs)
    this.bytes = new TokenBucket(options.bytesPerSecond, options.burstBytes, nowMs)
  }

  /** Accounts for one frame of `size` bytes. */
  take(size: number, nowMs: number): RateVerdict {
    const messageDebt = this.messages.take(1, nowMs)
    const byteDebt = this.bytes.take(size, nowMs)
    if (messageDebt > this.messages.burst) return { kind: 'exceeded', what: 'messages' }
    if (byteDebt > this.bytes.burst) return { kind: 'exceeded', what: 'bytes' }
    if (messageDebt === 0 && byteDebt === 0) return { kind: 'ok' }
    return { kind: 'pause', ms: Math.max(1, this.messages.msUntilRepaid(nowMs), this.bytes.msUntilRepaid(nowMs)) }
  }

  /** Milliseconds until both buckets are out of debt. */
  msUntilRepaid(nowMs: number): number {
    return Math.max(this.messages.msUntilRepaid(nowMs), this.bytes.msUntilRepaid(nowMs))
  }
}

const UNLIMITED = new ConnectionRateLimiter({ messagesPerSecond: 0, burstMessages: 0, bytesPerSecond: 0, burstBytes: 0 }, 0)

export type AdmitVerdict = 'ok' | 'too_many_connections' | 'too_many_per_ip'

/** Counts open document connections, in total and per client address. */
export class ConnectionLimiter {
  private total = 0
  private readonly perIp = new Map<string, number>()

  constructor(private readonly maxTotal: number, private readonly maxPerIp: number) {}

  tryAcquire(ip: string): AdmitVerdict {
    if (this.total >= this.maxTotal) return 'too_many_connections'
    const current = this.perIp.get(ip) ?? 0
    if (current >= this.maxPerIp) return 'too_many_per_ip'
    this.total++
    this.perIp.set(ip, current + 1)
    return 'ok'
  }

  release(ip: string): void {
    const current = this.perIp.get(ip)
    if (current === undefined) return
    this.total--
    if (current <= 1) this.perIp.delete(ip)
    else this.perIp.set(ip, current - 1)
  }

  get open(): number {
    return this.total
  }

  get addresses(): number {
    return this.perIp.size
  }
}

/**
 * Keeps each room's encoded size under `maxBytes` for client writes. The size
 * is tracked as an over-estimate (the exact size when last measured, plus the
 * bytes of every change since, whatever its origin) and measured exactly
 * (`Y.encodeStateAsUpdate`) only when the estimate says a write might not fit.
 */
export class DocSizeGuard {
  /** Per room: its exact size when last measured, and its `changedBytes` then (the changes since are added). */
  private readonly sizes = new WeakMap<Room, { bytes: number; changedAt: number }>()

  constructor(readonly maxBytes: number) {}

  /** True if applying `incomingBytes` more could make the document larger than the limit. */
  wouldExceed(room: Room, incomingBytes: number): boolean {
    const entry = this.sizes.get(room)
    if (entry !== undefined && entry.bytes + (room.changedBytes - entry.changedAt) + incomingBytes <= this.maxBytes) return false
    const exact = Y.encodeStateAsUpdate(room.doc).length
    if (entry === undefined) this.sizes.set(room, { bytes: exact, changedAt: room.changedBytes })
    else {
      entry.bytes = exact
      entry.changedAt = room.changedBytes
    }
    return exact + incomingBytes > this.maxBytes
  }

  /** The last known size (an over-estimate), or null if never measured. */
  estimate(room: Room): number | null {
    const entry = this.sizes.get(room)
    return entry === undefined ? null : entry.bytes + (room.changedBytes - entry.changedAt)
  }
}
