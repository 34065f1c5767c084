import type { Clock, ClockTimer } from '@meridian/base'
import type { Backoff } from './backoff.js'

export interface ReconnectOptions {
  /** The relays, tried in order on failure (failover). */
  urls: readonly string[]
  backoff: Backoff
  clock: Clock
  /** Connect from the start (once `ready`). */
  connect: boolean
  /** Starts a connection attempt to `url` (`closed` must follow it exactly once); false: none could start. */
  open: (url: string) => boolean
  /** The browser says the network is gone: end the current attempt (its `closed` follows). */
  drop: () => void
}

/** Where the reconnect loop stands. */
type State =
  | { readonly kind: 'idle' }
  | { readonly kind: 'linked'; readonly url: string }
  | { readonly kind: 'waiting'; readonly timer: ClockTimer }

/**
 * When and where the provider connects: one attempt at a time, the next after
 * an exponential backoff with jitter, and to the next relay in the list when one
 * fails (failover). The backoff resets only once a connection stayed up for
 * `stableAfterMs` (a flapping relay must not see a storm). The browser's
 * `online` skips the wait; its `offline` drops a connection it says is gone.
 */
export class Reconnect {
  private state: State = { kind: 'idle' }
  private wanted: boolean
  private ready = false
  private stopped = false
  private urlIndex = 0
  private stableTimer: ClockTimer | null = null

  constructor(private readonly o: ReconnectOptions) {
    this.wanted = o.connect
    browserEvents()?.addEventListener('offline', this.onOffline)
    browserEvents()?.addEventListener('online', this.onOnline)
  }

  /** Whether the app wants a connection (false after `disconnect()` or a fatal refusal). */
  get wantConnected(): boolean {
    return this.wanted
  }

  /** The provider is loaded: connect now if wanted. */
  start(): void {
    this.ready = true
    this.attempt()
  }

  connect(): void {
    if (this.stopped) return
    this.wanted = true
    if (this.state.kind === 'idle') this.attempt()
  }

  /** No more attempts until `connect()`; the current connection is the caller's to close. */
  disconnect(): void {
    this.wanted = false
    this.clearTimers()
  }

  /** The attempt opened. */
  opened(): void {
    this.stableTimer = this.o.clock.setTimeout(() => {
      this.stableTimer = null
      this.o.backoff.reset()
    }, this.o.backoff.options.stableAfterMs)
  }

  /**
   * The attempt ended. `wasOpen`: it had opened. `fatal`: retrying cannot
   * succeed (e.g. refused credentials): stop until `connect()`.
   */
  closed(wasOpen: boolean, fatal: boolean): void {
    if (this.state.kind === 'linked') this.state = { kind: 'idle' }
    if (fatal) this.wanted = false
    this.clearStable()
    // Fail over: the next attempt goes to the next relay. A deliberate disconnect() is not a
    // failure of this relay: connect() comes back to it.
    if (this.wanted && (!wasOpen || this.o.urls.length > 1)) this.urlIndex++
    if (this.stopped || !this.wanted) return
    const timer = this.o.clock.setTimeout(() => {
      this.state = { kind: 'idle' }
      this.attempt()
    }, this.o.backoff.nextDelayMs())
    this.state = { kind: 'waiting', timer }
  }

  destroy(): void {
    this.stopped = true
    this.wanted = false
    this.clearTimers()
    browserEvents()?.removeEventListener('offline', this.onOffline)
    browserEvents()?.removeEventListener('online', this.onOnline)
  }

  private attempt(): void {
    if (this.stopped || !this.wanted || !this.ready || this.state.kind !== 'idle' || this.o.urls.length === 0) return
    const url = this.o.urls[this.urlIndex % this.o.urls.length] as string
    this.state = { kind: 'linked', url }
    if (!this.o.open(url)) this.state = { kind: 'idle' }
  }

  // Browsers keep a WebSocket "open" for a while after the network is gone; close it now.
  // Reconnection then follows the usual backoff (a relay on localhost stays reachable).
  private readonly onOffline = (): void => {
    if (this.state.kind === 'linked') this.o.drop()
  }

  // Do not wait out the backoff delay once the browser says the network is back.
  private readonly onOnline = (): void => {
    if (this.state.kind !== 'waiting') return
    this.o.clock.clearTimeout(this.state.timer)
    this.state = { kind: 'idle' }
    this.attempt()
  }

  private clearStable(): void {
    if (this.stableTimer !== null) this.o.clock.clearTimeout(this.stableTimer)
    this.stableTimer = null
  }

  private clearTimers(): void {
    this.clearStable()
    if (this.state.kind === 'waiting') {
      this.o.clock.clearTimeout(this.state.timer)
      this.state = { kind: 'idle' }
    }
  }
}

/** `window` (or a worker's global) for the browser's online/offline events; null in Node. */
function browserEvents(): Pick<EventTarget, 'addEventListener' | 'removeEventListener'> | null {
  const g = globalThis as { addEventListener?: unknown; removeEventListener?: unknown }
  return typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function' ? (g as unknown as EventTarget) : null
}
