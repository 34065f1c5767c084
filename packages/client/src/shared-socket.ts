import type { Clock, ClockTimer } from '@meridian/base'
import {
  CLOSE_CLIENT_RECONNECT,
  CLOSE_INVALID_MESSAGE,
  FATAL_CLOSE_CODES,
  FEATURE_MULTIPLEX,
  MERIDIAN_AUTH,
  MESSAGE_MERIDIAN,
  MUX_PATH,
  MuxBatcher,
  PROTOCOL_VERSION,
  encodeClientMessage,
  frame,
  type DocClosedMessage,
  type DocFrameMessage
} from '@meridian/protocol'
import type { Backoff } from './backoff.js'
import { MeridianError } from './errors.js'
import type { RelayInfo } from './link-events.js'
import { decodeMuxIncoming, type MuxIncoming } from './mux-decode.js'
import type { WebSocketConstructor, WebSocketLike } from './options.js'
import { authRefusal } from './provider-events.js'
import { Reconnect } from './reconnect.js'

/** The client's connection: `closed` once destroyed. */
export type ClientStatus = 'connecting' | 'connected' | 'disconnected' | 'closed'

/** Relay codes whose fatal `error` message precedes a fatal close, reported by that close. */
const REPORTED_BY_CLOSE: ReadonlySet<string> = new Set(Object.values(FATAL_CLOSE_CODES))

export interface SharedSocketOptions {
  urls: readonly string[]
  params: Readonly<Record<string, string>> | undefined
  /** Default `globalThis.WebSocket`, looked up at each attempt. */
  WebSocket: WebSocketConstructor | undefined
  backoff: Backoff
  clock: Clock
  connectTimeoutMs: number
  maxBatchBytes: number
  /** This client's id in its connection-level hello. */
  nodeId: string
  /** The socket opened and our hello went out: open the documents on it. */
  onOpen: () => void
  /** A document's frame, or its close. */
  onDocMessage: (message: DocFrameMessage | DocClosedMessage) => void
  /** The socket is gone: so is every document on it. */
  onClose: () => void
  onStatus: (status: ClientStatus, url: string | null) => void
  onRelay: (info: RelayInfo) => void
  onError: (error: MeridianError) => void
}

/** One attempt: its socket, and how far it got. */
interface Attempt {
  readonly socket: WebSocketLike
  readonly url: string
  open: boolean
  /** The relay's connection-level hello set FEATURE_MULTIPLEX. */
  multiplexed: boolean
  /** The relay said hello without FEATURE_MULTIPLEX: an older relay. */
  refused: boolean
  connectTimer: ClockTimer | null
  readonly batcher: MuxBatcher
}

/**
 * The one real WebSocket of a MeridianClient, to `${url}/_meridian/mux`: when
 * and where to connect (`Reconnect`: backoff, failover over `urls`, the
 * browser's online/offline), the connection-level hello and auth-token, and
 * every frame it sends, batched per turn. Documents are mux-session.ts's.
 */
export class SharedSocket {
  private attempt: Attempt | null = null
  private readonly reconnect: Reconnect
  private _status: ClientStatus = 'disconnected'
  private lastUrl: string | null = null
  /** Query parameters for the next attempt (a token, typically). */
  params: Readonly<Record<string, string>> | undefined

  constructor(private readonly o: SharedSocketOptions) {
    this.params = o.params
    this.reconnect = new Reconnect({
      urls: o.urls,
      backoff: o.backoff,
      clock: o.clock,
      connect: false,
      open: (url) => this.open(url),
      drop: () => this.close(CLOSE_CLIENT_RECONNECT, 'browser offline')
    })
    this.reconnect.start()
  }

  get status(): ClientStatus {
    return this._status
  }

  get url(): string | null {
    return this.lastUrl
  }

  /** True once the socket is open (documents may be opened on it). */
  get isOpen(): boolean {
    return this.attempt?.open === true
  }

  get bufferedAmount(): number {
    return this.attempt?.socket.bufferedAmount ?? 0
  }

  connect(): void {
    this.reconnect.connect()
  }

  /** No more attempts until `connect()`; closes the socket (the documents wait for the next one). */
  disconnect(): void {
    this.reconnect.disconnect()
    this.close(1000, 'client disconnect')
  }

  /** Queues one message for the socket (sent with the rest of this turn's). Dropped when not open. */
  send(message: Uint8Array): void {
    const attempt = this.attempt
    if (attempt?.open === true) attempt.batcher.push(message)
  }

  /** Sends a connection-level auth-token on the live socket (a refreshed token); no-op when not open. */
  sendToken(token: string): void {
    this.send(frame([MESSAGE_MERIDIAN, MERIDIAN_AUTH, new TextEncoder().encode(token)]))
  }

  destroy(): void {
    this.reconnect.destroy()
    this.setStatus('closed')
    this.close(1000, 'client destroyed')
  }

  private open(url: string): boolean {
    const WebSocket = this.o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (WebSocket === undefined) {
      this.o.onError(new MeridianError('ERR_NO_WEBSOCKET', 'pass options.WebSocket (e.g. ws)'))
      return false
    }
    const query = new URLSearchParams(this.params ?? {}).toString()
    const socket = new WebSocket(`${url.replace(/\/+$/, '')}${MUX_PATH}${query.length > 0 ? `?${query}` : ''}`)
    socket.binaryType = 'arraybuffer'
    const attempt: Attempt = {
      socket, url, open: false, multiplexed: false, refused: false,
      connectTimer: this.o.clock.setTimeout(() => this.close(CLOSE_CLIENT_RECONNECT, 'connect timeout'), this.o.connectTimeoutMs),
      batcher: new MuxBatcher(this.o.maxBatchBytes, (bytes) => this.sendFrame(attempt, bytes))
    }
    this.attempt = attempt
    this.lastUrl = url
    socket.onopen = () => this.onOpen(attempt)
    socket.onmessage = (ev) => this.onMessage(attempt, ev.data)
    socket.onclose = (ev) => this.finish(attempt, ev.code, ev.reason)
    socket.onerror = () => {
      // The close event follows.
    }
    this.setStatus('connecting')
    return true
  }

  private onOpen(attempt: Attempt): void {
    if (this.attempt !== attempt) return
    attempt.open = true
    this.clearConnectTimer(attempt)
    // Alone and first: the relay reads the connection's hello before anything else.
    this.sendFrame(attempt, encodeClientMessage({ type: 'hello', version: PROTOCOL_VERSION, role: 'client', nodeId: this.o.nodeId, region: '', features: FEATURE_MULTIPLEX }))
    if (this.attempt !== attempt) return
    this.reconnect.opened()
    this.setStatus('connected')
    // Pipelined, not after the relay's hello: one round trip for every document.
    this.o.onOpen()
  }

  private onMessage(attempt: Attempt, data: unknown): void {
    if (this.attempt !== attempt) return
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : null
    if (bytes === null) {
      this.fail(new MeridianError('ERR_PROTOCOL', 'relay sent a non-binary frame'))
      return
    }
    this.dispatch(attempt, bytes, true)
  }

  private dispatch(attempt: Attempt, bytes: Uint8Array, topLevel: boolean): void {
    const decoded = decodeMuxIncoming(bytes)
    if (!decoded.ok && !attempt.multiplexed) {
      // Before the relay's hello: a server that took the mux path for a document (a stock y-websocket
      // server sends its step 1 at once). Retrying cannot help.
      attempt.refused = true
      this.close(1000, 'not a multiplexing relay')
      return
    }
    if (!decoded.ok) {
      this.fail(new MeridianError('ERR_PROTOCOL', `relay sent an undecodable message (${decoded.error.code})`, { cause: decoded.error }))
      return
    }
    const message: MuxIncoming = decoded.message
    switch (message.type) {
      case 'batch':
        // Never nested (readBatch refuses that); every entry handled in order, unless the socket ends midway.
        if (!topLevel) return
        for (const entry of message.messages) {
          if (this.attempt !== attempt) return
          this.dispatch(attempt, entry, false)
        }
        return
      case 'doc-frame':
      case 'doc-closed':
        this.o.onDocMessage(message)
        return
      case 'hello':
        if ((message.features & FEATURE_MULTIPLEX) === 0) {
          attempt.refused = true
          this.close(1000, 'relay without multiplexing')
          return
        }
        attempt.multiplexed = true
        this.o.onRelay({ url: attempt.url, nodeId: message.nodeId, region: message.region, version: message.version, features: message.features })
        return
      case 'error':
        if (message.fatal && REPORTED_BY_CLOSE.has(message.code)) return
        this.o.onError(new MeridianError('ERR_RELAY', `relay error ${message.code}: ${message.message}`, { relayCode: message.code }))
        return
      case 'auth-denied':
        this.o.onError(new MeridianError('ERR_RELAY', `permission denied: ${message.reason}`, { relayCode: 'ERR_AUTH' }))
        return
    }
  }

  private sendFrame(attempt: Attempt, bytes: Uint8Array): void {
    if (this.attempt !== attempt) return
    try {
      attempt.socket.send(bytes)
    } catch {
      // Not from inside a send (a document may be mid-handshake): close once this turn is done.
      queueMicrotask(() => {
        if (this.attempt === attempt) this.close(CLOSE_CLIENT_RECONNECT, 'send failed')
      })
    }
  }

  private fail(error: MeridianError): void {
    this.o.onError(error)
    this.close(CLOSE_CLIENT_RECONNECT, error.code)
  }

  /** Ends the current attempt (what is queued goes out first). */
  private close(code: number, reason: string): void {
    const attempt = this.attempt
    if (attempt === null) return
    if (attempt.open) attempt.batcher.flush()
    try {
      attempt.socket.close(code, reason)
    } catch {
      // Closing a socket that never opened can throw in some implementations.
    }
    this.finish(attempt, code, reason)
  }

  private finish(attempt: Attempt, code: number, reason: string): void {
    if (this.attempt !== attempt) return
    this.attempt = null
    this.clearConnectTimer(attempt)
    attempt.batcher.clear()
    attempt.socket.onopen = null
    attempt.socket.onmessage = null
    attempt.socket.onclose = null
    this.o.onClose()
    // An older relay takes the mux path for a document name and refuses it (4401) before any
    // hello of ours is answered, or answers hello without the feature: retrying cannot help.
    const unsupported = attempt.refused || (code === CLOSE_INVALID_MESSAGE && !attempt.multiplexed)
    const refusal = unsupported ? null : authRefusal(code, reason)
    this.reconnect.closed(attempt.open, unsupported || refusal !== null)
    if (this._status !== 'closed') this.setStatus('disconnected')
    if (unsupported) this.o.onError(new MeridianError('ERR_MULTIPLEX_UNSUPPORTED', `${attempt.url} (${code} ${reason}): use MeridianProvider per document`))
    else if (refusal !== null) this.o.onError(refusal)
  }

  private clearConnectTimer(attempt: Attempt): void {
    if (attempt.connectTimer !== null) this.o.clock.clearTimeout(attempt.connectTimer)
    attempt.connectTimer = null
  }

  private setStatus(status: ClientStatus): void {
    if (this._status === status) return
    this._status = status
    this.o.onStatus(status, this.lastUrl)
  }
}
