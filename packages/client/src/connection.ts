import { CLOSE_CLIENT_RECONNECT } from '@meridian/protocol'
import type { Backoff } from './backoff.js'
import { MeridianError } from './errors.js'
import type { LinkEvent } from './link-events.js'
import type { WebSocketConstructor } from './options.js'
import { Reconnect } from './reconnect.js'
import { RelayLink, type RelayLinkOptions } from './relay-link.js'

export interface ConnectionOptions extends Omit<RelayLinkOptions, 'url' | 'params' | 'WebSocket' | 'onEvent'> {
  urls: readonly string[]
  params: Readonly<Record<string, string>> | undefined
  /** Default `globalThis.WebSocket`, looked up at each attempt. */
  WebSocket: WebSocketConstructor | undefined
  backoff: Backoff
  /** Connect once started (see Reconnect). */
  connect: boolean
  /** Every event of the current link, in order; a replaced link's are dropped. */
  onEvent: (event: LinkEvent) => void
  /** An attempt to `url` starts. */
  onAttempt: (url: string) => void
  onError: (error: MeridianError) => void
}

/**
 * The provider's relay connection: at most one `RelayLink` at a time, opened
 * when `Reconnect` says so, its events passed on. The provider tells it when
 * the current link opened and closed (it decides whether a refusal is fatal).
 */
export class Connection {
  private link: RelayLink | null = null
  private readonly reconnect: Reconnect
  /** Query parameters for the next link (a token, typically). */
  params: Readonly<Record<string, string>> | undefined

  constructor(private readonly o: ConnectionOptions) {
    this.params = o.params
    this.reconnect = new Reconnect({
      urls: o.urls,
      backoff: o.backoff,
      clock: o.clock,
      connect: o.connect,
      open: (url) => this.open(url),
      drop: () => this.link?.close(CLOSE_CLIENT_RECONNECT, 'browser offline')
    })
  }

  /** The current link, if any. */
  get current(): RelayLink | null {
    return this.link
  }

  /** The provider is loaded: connect if wanted. */
  start(): void {
    this.reconnect.start()
  }

  connect(): void {
    this.reconnect.connect()
  }

  /** No more attempts until `connect()`; closes the current link. */
  disconnect(reason: string): void {
    this.reconnect.disconnect()
    this.link?.close(1000, reason)
  }

  /** The current link opened. */
  opened(): void {
    this.reconnect.opened()
  }

  /** The current link closed; `fatal`: retrying cannot succeed (stop until `connect()`). */
  closed(wasOpen: boolean, fatal: boolean): void {
    this.link = null
    this.reconnect.closed(wasOpen, fatal)
  }

  destroy(): void {
    this.reconnect.destroy()
    this.link?.close(1000, 'provider destroyed')
    this.link = null
  }

  private open(url: string): boolean {
    const WebSocket = this.o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (WebSocket === undefined) {
      this.o.onError(new MeridianError('ERR_NO_WEBSOCKET', 'pass options.WebSocket (e.g. ws)'))
      return false
    }
    const link: RelayLink = new RelayLink({
      ...this.o,
      url,
      params: this.params,
      WebSocket,
      onEvent: (event) => {
        if (this.link === link) this.o.onEvent(event)
      }
    })
    this.link = link
    this.o.onAttempt(url)
    return true
  }
}
