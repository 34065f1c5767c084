import type { ClockTimer } from '@meridian/base'
import type { Backoff } from './backoff.js'
import type { WebSocketConstructor, WebSocketLike } from './options.js'

const CONNECTING = 0
const OPEN = 1
const CLOSED = 3

/** What a virtual socket needs of the multiplexed connection it rides (see mux-session.ts). */
export interface VirtualHub {
  /** A new socket (CONNECTING): open it as a document on the shared socket once that is open. */
  attach(socket: VirtualSocket): void
  /** One single-document message from the provider, to wrap in a doc-frame. */
  send(socket: VirtualSocket, data: Uint8Array): void
  /** The provider closed the socket: close the document on the wire (doc-close). */
  detach(socket: VirtualSocket): void
  /** Bytes queued on the shared socket. */
  bufferedAmount(): number
}

/** Per document, across its provider's connections: when its next doc-open may go out. */
export interface DocLine {
  readonly docName: string
  /** Local time before which no doc-open is sent (the relay closed the document: back off). */
  retryAtMs: number
  /** When the last doc-open went out (a document that stayed open long enough resets its backoff). */
  openedAtMs: number
  readonly backoff: Backoff
}

/**
 * A WebSocket for one document that rides the client's shared socket: the
 * provider's RelayLink uses it exactly as a real one, so every per-document
 * behaviour (hello, acks, status, durability, refused writes, presence) is the
 * single-document provider's, unchanged. CONNECTING until the shared socket is
 * open and its doc-open was sent; what it sends is wrapped in doc-frames; the
 * relay's doc-closed, or the loss of the shared socket, is its close event.
 */
export class VirtualSocket implements WebSocketLike {
  binaryType = 'arraybuffer'
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  /** The document's id on the shared socket while OPEN; null otherwise. */
  docId: number | null = null
  /** A pending doc-open held back by the document's backoff (see mux-session.ts). */
  timer: ClockTimer | null = null
  private state = CONNECTING

  constructor(
    private readonly hub: VirtualHub,
    readonly line: DocLine
  ) {
    hub.attach(this)
  }

  get readyState(): number {
    return this.state
  }

  get bufferedAmount(): number {
    return this.hub.bufferedAmount()
  }

  send(data: Uint8Array): void {
    // A closed WebSocket drops what is sent; the provider checks readyState first anyway.
    if (this.state === OPEN) this.hub.send(this, data)
  }

  close(code = 1000, reason = ''): void {
    if (this.state === CLOSED) return
    this.hub.detach(this)
    this.state = CLOSED
    this.docId = null
    // As a real WebSocket: the close event comes later (the provider has let go of its handlers by then).
    queueMicrotask(() => this.onclose?.({ code, reason }))
  }

  /** The hub sent its doc-open as `docId`. */
  opened(docId: number): void {
    if (this.state !== CONNECTING) return
    this.state = OPEN
    this.docId = docId
    this.onopen?.({})
  }

  /** A doc-frame's message for this document. */
  deliver(data: Uint8Array): void {
    if (this.state === OPEN) this.onmessage?.({ data })
  }

  /** The relay closed the document (doc-closed), or the shared socket is gone. */
  ended(code: number, reason: string): void {
    if (this.state === CLOSED) return
    this.state = CLOSED
    this.docId = null
    this.onclose?.({ code, reason })
  }
}

/** A WebSocket class for one document's provider: every instance rides `hub` as `line`. */
export function virtualSocketClass(hub: VirtualHub, line: DocLine): WebSocketConstructor {
  return class extends VirtualSocket {
    constructor(_url: string) {
      super(hub, line)
    }
  }
}
