/**
 * The pace of one document socket: its rate limit (over the rate it stops
 * reading until repaid, see limits.ts), its last activity for the idle
 * timeout, and whether it answered the heartbeat.
 */
import type { Clock, ClockTimer } from '@meridian/base'
import type { Counter } from 'prom-client'
import { ConnectionRateLimiter, type RateLimitOptions, type RateVerdict } from './limits.js'
import type { RelaySocket } from './transport.js'

export class SocketPacing {
  /** Whether the socket answered the last ping (or sent anything since). */
  private alive = true
  private lastActivity: number
  /** Whether the idle timeout applies (it starts once the document name and Origin passed). */
  idleArmed = false
  private readonly rate: ConnectionRateLimiter
  /** Rate-limit pause (rare: a timer of its own). */
  private resumeTimer: ClockTimer | null = null

  constructor(
    private readonly socket: RelaySocket,
    private readonly clock: Clock,
    rateLimit: RateLimitOptions,
    private readonly throttled: Counter
  ) {
    this.lastActivity = clock.now()
    this.rate = ConnectionRateLimiter.for(rateLimit, this.lastActivity)
  }

  /** A frame of `size` bytes arrived: its rate verdict (a pause is already applied). */
  activity(size: number): RateVerdict {
    this.lastActivity = this.clock.now()
    this.alive = true
    const verdict = this.rate.take(size, this.lastActivity)
    if (verdict.kind === 'pause') this.throttle(verdict.ms)
    return verdict
  }

  pong(): void {
    this.alive = true
  }

  /** When the socket goes idle (Infinity: no idle timeout). */
  idleAt(idleTimeoutMs: number): number {
    return this.idleArmed ? this.lastActivity + idleTimeoutMs : Number.POSITIVE_INFINITY
  }

  /** A heartbeat: false when the previous ping got no answer (the socket is dead), else pinged. */
  beat(): boolean {
    if (!this.alive) return false
    this.alive = false
    try {
      this.socket.ping()
    } catch {
      // Not open (closing): the close event follows.
    }
    return true
  }

  /** Stops the idle timeout and the rate pause; a paused socket reads again, so its close handshake can complete. */
  stop(): void {
    this.idleArmed = false
    if (this.resumeTimer !== null) {
      this.clock.clearTimeout(this.resumeTimer)
      this.socket.resume()
    }
    this.resumeTimer = null
  }

  /** Over the rate: stop reading until the buckets are repaid (TCP backpressure slows the sender meanwhile). */
  private throttle(ms: number): void {
    if (this.resumeTimer !== null) return
    this.throttled.inc()
    this.socket.pause()
    const resume = (): void => {
      this.resumeTimer = null
      const left = this.rate.msUntilRepaid(this.clock.now())
      if (left > 0) {
        this.resumeTimer = this.clock.setTimeout(resume, left)
        return
      }
      this.socket.resume()
    }
    this.resumeTimer = this.clock.setTimeout(resume, ms)
  }
}
