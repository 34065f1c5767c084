import { EventEmitter } from 'node:events'
import type { RelaySocket } from '@meridian/relay'
import type { WebSocketLike } from '@meridian/client'

export const CONNECTING = 0
export const OPEN = 1
export const CLOSING = 2
export const CLOSED = 3

/** What travels on a simulated connection, in order, one direction at a time. */
export type Frame =
  | { kind: 'open' }
  | { kind: 'data'; bytes: Uint8Array }
  | { kind: 'ping' }
  | { kind: 'pong' }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'reset' }

/** The network side of an end: how it sends and learns its own close. */
export interface Wire {
  transmit(frame: Frame): void
  /** Runs `fn` after the one-way latency (a close handshake's reply, approximately). */
  later(fn: () => void): void
}

/**
 * One end of a simulated WebSocket, speaking the frames of the network.
 * Subclasses adapt it to the API their user expects (ws-like for relays,
 * browser-like for the SDK).
 */
export abstract class SimEnd {
  readyState: number
  wire: Wire | null = null
  private paused = false
  private readonly held: Frame[] = []

  constructor(initial: number) {
    this.readyState = initial
  }

  /** A frame arrived from the peer. */
  receive(frame: Frame): void {
    if (this.readyState === CLOSED) {
      // Like TCP: data for a socket that is gone gets a reset back.
      if (frame.kind === 'data' || frame.kind === 'open') this.wire?.transmit({ kind: 'reset' })
      return
    }
    if (this.paused && frame.kind === 'data') {
      this.held.push(frame)
      return
    }
    switch (frame.kind) {
      case 'open':
        if (this.readyState === CONNECTING) {
          this.readyState = OPEN
          this.onOpen()
        }
        return
      case 'data':
        if (this.readyState === OPEN) this.onData(frame.bytes)
        return
      case 'ping':
        this.wire?.transmit({ kind: 'pong' })
        return
      case 'pong':
        this.onPong()
        return
      case 'close':
        this.finish(frame.code, frame.reason)
        return
      case 'reset':
        this.finish(1006, '')
        return
    }
  }

  /** The network refused the connection or the peer vanished. */
  fail(): void {
    if (this.readyState === CLOSED) return
    this.onError(new Error('connection failed'))
    this.finish(1006, '')
  }

  protected sendBytes(bytes: Uint8Array): boolean {
    if (this.readyState !== OPEN || this.wire === null) return false
    // Copy: the sender may reuse its buffer, a real socket would have written it out.
    this.wire.transmit({ kind: 'data', bytes: bytes.slice() })
    return true
  }

  protected startClose(code: number, reason: string): void {
    if (this.readyState === CLOSED || this.readyState === CLOSING) return
    if (this.readyState === CONNECTING || this.wire === null) {
      this.wire?.transmit({ kind: 'reset' })
      this.finish(1006, '')
      return
    }
    this.readyState = CLOSING
    this.wire.transmit({ kind: 'close', code, reason })
    // The peer's answering close frame, approximated by the one-way latency.
    this.wire.later(() => this.finish(code, reason))
  }

  protected abort(): void {
    if (this.readyState === CLOSED) return
    this.wire?.transmit({ kind: 'reset' })
    this.finish(1006, '')
  }

  protected setPaused(paused: boolean): void {
    this.paused = paused
    if (paused) return
    for (const frame of this.held.splice(0)) this.receive(frame)
  }

  /** Ends the socket (once) with this close code. */
  finish(code: number, reason: string): void {
    if (this.readyState === CLOSED) return
    this.readyState = CLOSED
    this.held.length = 0
    this.onClose(code, reason)
  }

  protected abstract onOpen(): void
  protected abstract onData(bytes: Uint8Array): void
  protected abstract onPong(): void
  protected abstract onError(err: Error): void
  protected abstract onClose(code: number, reason: string): void
}

/** A relay's end (accepted document or mesh socket, or a dialed mesh link): the `ws` subset RelaySocket. */
export class SimRelaySocket extends SimEnd implements RelaySocket {
  private readonly events = new EventEmitter()

  get bufferedAmount(): number {
    return 0
  }

  send(data: Uint8Array, _options: { binary: boolean }, cb?: (err?: Error) => void): void {
    const ok = this.sendBytes(data)
    if (cb !== undefined) queueMicrotask(() => cb(ok ? undefined : new Error('WebSocket is not open')))
  }

  close(code = 1000, reason = ''): void {
    this.startClose(code, reason)
  }

  terminate(): void {
    this.abort()
  }

  ping(): void {
    if (this.readyState === OPEN) this.wire?.transmit({ kind: 'ping' })
  }

  pause(): void {
    this.setPaused(true)
  }

  resume(): void {
    this.setPaused(false)
  }

  on(event: string, listener: (...args: never[]) => void): this {
    this.events.on(event, listener as (...args: unknown[]) => void)
    return this
  }

  once(event: string, listener: (...args: never[]) => void): this {
    this.events.once(event, listener as (...args: unknown[]) => void)
    return this
  }

  protected onOpen(): void {
    this.events.emit('open')
  }

  protected onData(bytes: Uint8Array): void {
    this.events.emit('message', Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), true)
  }

  protected onPong(): void {
    this.events.emit('pong')
  }

  protected onError(err: Error): void {
    if (this.events.listenerCount('error') > 0) this.events.emit('error', err)
  }

  protected onClose(code: number, reason: string): void {
    this.events.emit('close', code, Buffer.from(reason))
  }
}

/** The SDK's end: the browser WebSocket API subset the provider uses. */
export class SimBrowserSocket extends SimEnd implements WebSocketLike {
  binaryType = 'arraybuffer'
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null

  constructor() {
    super(CONNECTING)
  }

  get bufferedAmount(): number {
    return 0
  }

  send(data: Uint8Array): void {
    // Browsers throw while connecting and silently drop once closing.
    if (this.readyState === CONNECTING) throw new Error('InvalidStateError: still connecting')
    this.sendBytes(data)
  }

  close(code = 1000, reason = ''): void {
    this.startClose(code, reason)
  }

  protected onOpen(): void {
    this.onopen?.({})
  }

  protected onData(bytes: Uint8Array): void {
    // A fresh ArrayBuffer, as a browser's binaryType 'arraybuffer' gives.
    this.onmessage?.({ data: bytes.buffer.byteLength === bytes.byteLength ? bytes.buffer : bytes.slice().buffer })
  }

  protected onPong(): void {}

  protected onError(err: Error): void {
    this.onerror?.(err)
  }

  protected onClose(code: number, reason: string): void {
    this.onclose?.({ code, reason })
  }
}
