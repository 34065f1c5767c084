import type { Clock } from '@meridian/base'
import { CLOSE_CLIENT_RECONNECT, encodeMuxMessage, type DocClosedMessage, type DocFrameMessage } from '@meridian/protocol'
import { Backoff, type BackoffOptions } from './backoff.js'
import type { WebSocketConstructor } from './options.js'
import { virtualSocketClass, type DocLine, type VirtualHub, type VirtualSocket } from './virtual-socket.js'

/** What the session needs of the shared socket. */
export interface SessionSocket {
  readonly isOpen: boolean
  readonly bufferedAmount: number
  send(message: Uint8Array): void
}

export interface MuxSessionOptions {
  socket: SessionSocket
  clock: Clock
  /** Each document's own backoff after the relay closed it (the shared socket's is Reconnect's). */
  backoff: BackoffOptions
  random: () => number
}

/** A docId on the current shared socket: a document's, or one we closed whose doc-closed has not come yet. */
type Slot = { readonly kind: 'open'; readonly socket: VirtualSocket } | { readonly kind: 'closing' }

/**
 * The documents on the shared socket: docIds (never one in use; one is reused
 * only after its doc-closed), doc-open for each virtual socket once the shared
 * socket is open, doc-frames both ways, doc-closed as the virtual socket's
 * close. When the shared socket goes, every open virtual socket closes (4000,
 * "reconnecting is fine"): its provider reconnects at once (no backoff of its
 * own) and waits, CONNECTING, for the next shared socket, so a reconnect or a
 * failover is one socket and one batch of handshakes for all documents. A
 * document the relay closed waits out its own backoff before its next doc-open.
 */
export class MuxSession implements VirtualHub {
  /** CONNECTING sockets due to open, in arrival order. */
  private readonly waiting = new Set<VirtualSocket>()
  private readonly slots = new Map<number, Slot>()
  private freeIds: number[] = []
  private nextId = 1
  private openScheduled = false

  constructor(private readonly o: MuxSessionOptions) {}

  /** The WebSocket class for one document's provider. */
  socketClass(docName: string): WebSocketConstructor {
    const line: DocLine = { docName, retryAtMs: 0, openedAtMs: 0, backoff: new Backoff(this.o.backoff, this.o.random) }
    return virtualSocketClass(this, line)
  }

  attach(socket: VirtualSocket): void {
    const delayMs = socket.line.retryAtMs - this.o.clock.now()
    if (delayMs <= 0) {
      this.enqueue(socket)
      return
    }
    socket.timer = this.o.clock.setTimeout(() => {
      socket.timer = null
      this.enqueue(socket)
    }, delayMs)
  }

  send(socket: VirtualSocket, data: Uint8Array): void {
    if (socket.docId !== null) this.o.socket.send(encodeMuxMessage({ type: 'doc-frame', docId: socket.docId, message: data }))
  }

  detach(socket: VirtualSocket): void {
    this.waiting.delete(socket)
    if (socket.timer !== null) this.o.clock.clearTimeout(socket.timer)
    socket.timer = null
    const docId = socket.docId
    if (docId === null) return
    // The id stays taken until the relay's doc-closed: frames still in flight for it are dropped.
    this.slots.set(docId, { kind: 'closing' })
    this.o.socket.send(encodeMuxMessage({ type: 'doc-close', docId }))
  }

  bufferedAmount(): number {
    return this.o.socket.bufferedAmount
  }

  /** The shared socket opened: open every waiting document, in this turn (one batch). */
  sharedOpened(): void {
    this.openWaiting()
  }

  onDocMessage(message: DocFrameMessage | DocClosedMessage): void {
    const slot = this.slots.get(message.docId)
    // Unknown ids are ignored: a frame may race our doc-close, or its doc-closed.
    if (slot === undefined) return
    switch (message.type) {
      case 'doc-frame':
        if (slot.kind === 'open') slot.socket.deliver(message.message)
        return
      case 'doc-closed':
        this.slots.delete(message.docId)
        this.freeIds.push(message.docId)
        if (slot.kind === 'open') this.relayClosed(slot.socket, message.closeCode, message.reason)
        return
    }
  }

  /** The shared socket is gone, and with it every id: the documents on it close, and reconnect. */
  sharedClosed(): void {
    const open = [...this.slots.values()]
    this.slots.clear()
    this.freeIds = []
    this.nextId = 1
    for (const slot of open) {
      if (slot.kind === 'open') slot.socket.ended(CLOSE_CLIENT_RECONNECT, 'connection lost')
    }
  }

  private enqueue(socket: VirtualSocket): void {
    if (socket.readyState !== 0) return
    this.waiting.add(socket)
    if (!this.o.socket.isOpen || this.openScheduled) return
    // Not now: the provider sets its handlers right after constructing the socket.
    this.openScheduled = true
    queueMicrotask(() => {
      this.openScheduled = false
      this.openWaiting()
    })
  }

  private openWaiting(): void {
    const now = this.o.clock.now()
    for (const socket of [...this.waiting]) {
      // The shared socket may close while documents open (a send fails): the rest wait for the next one.
      if (!this.o.socket.isOpen) return
      this.waiting.delete(socket)
      if (socket.readyState !== 0) continue
      const docId = this.freeIds.pop() ?? this.nextId++
      this.slots.set(docId, { kind: 'open', socket })
      socket.line.openedAtMs = now
      this.o.socket.send(encodeMuxMessage({ type: 'doc-open', docId, docName: socket.line.docName }))
      socket.opened(docId)
    }
  }

  /** The relay closed an open document: it backs off before its next doc-open (a refusal must not loop). */
  private relayClosed(socket: VirtualSocket, code: number, reason: string): void {
    const line = socket.line
    const now = this.o.clock.now()
    if (now - line.openedAtMs >= line.backoff.options.stableAfterMs) line.backoff.reset()
    line.retryAtMs = now + line.backoff.nextDelayMs()
    socket.ended(code, reason)
  }
}
