/**
 * An in-process fake of a multiplexing relay (the wire spec of
 * @meridian/protocol's mux.ts), for the multiplex client's tests: its
 * `WebSocket` class connects to it, every delivery is a microtask (so
 * `settle()` drains the network), and the tests see what it received.
 * Per document it speaks the single-document protocol: hello, step 1/2,
 * updates with acks (FEATURE_ACKS only: no status, no digest).
 */
import * as Y from 'yjs'
import {
  CLOSE_CODES,
  FEATURE_ACKS,
  FEATURE_MULTIPLEX,
  MUX_PATH,
  PROTOCOL_VERSION,
  decodeMessage,
  encodeMessage,
  type Message
} from '@meridian/protocol'
import type { WebSocketConstructor, WebSocketLike } from './options.js'

/** Drains every microtask chain (deliveries, store writes): one macrotask turn. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** A relay document's text (tests write to `getText('t')`). */
export const textOf = (doc: Y.Doc): string => doc.getText('t').toString()

type Refusal = { code: number; reason: string } | null

interface OpenDoc {
  readonly name: string
  /** Update-bearing messages received: the cumulative ack. */
  count: number
}

export class FakeMuxRelay {
  readonly connections: FakeConnection[] = []
  readonly docs = new Map<string, Y.Doc>()
  /** URLs (as passed to the client) whose connections fail before opening. */
  readonly down = new Set<string>()
  /**
   * 'old': a relay without multiplexing, which takes the mux path for a bad document name (4401);
   * 'plain': a server that takes it for a document and sends its step 1 (a stock y-websocket server).
   */
  mode: 'mux' | 'old' | 'plain' = 'mux'
  /** Keep new sockets CONNECTING until `connection.accept()`. */
  holdOpen = false
  /** Whether (and how) to refuse a doc-open. */
  refuse: (docName: string) => Refusal = () => null
  readonly WebSocket: WebSocketConstructor

  constructor() {
    const relay = this
    this.WebSocket = class extends FakeClientSocket {
      constructor(url: string) {
        super(url, relay)
      }
    }
  }

  /** The relay's copy of a document (created empty on first use). */
  doc(name: string): Y.Doc {
    let doc = this.docs.get(name)
    if (doc === undefined) {
      doc = new Y.Doc()
      this.docs.set(name, doc)
      // A relay-side edit, or a client's, goes to every other connection that has the document open.
      doc.on('update', (update: Uint8Array, origin: unknown) => {
        for (const connection of this.connections) connection.forward(name, update, origin)
      })
    }
    return doc
  }

  text(name: string): string {
    return textOf(this.doc(name))
  }

  get last(): FakeConnection {
    const last = this.connections.at(-1)
    if (last === undefined) throw new Error('no connection yet')
    return last
  }

  /** Connections still up. */
  get live(): FakeConnection[] {
    return this.connections.filter((c) => !c.closed)
  }
}

export class FakeConnection {
  /** Every frame received, decoded (a batch as itself). */
  readonly frames: Message[] = []
  readonly tokens: string[] = []
  readonly open = new Map<number, OpenDoc>()
  closed = false
  closeCode: number | null = null

  constructor(
    readonly url: string,
    private readonly relay: FakeMuxRelay,
    private readonly socket: FakeClientSocket
  ) {}

  /** Every message received, batches flattened, doc-frames decoded as [docName, message]. */
  get messages(): Message[] {
    return this.frames.flatMap((m) => (m.type === 'batch' ? m.messages.map((bytes) => decodeMessage(bytes)) : [m]))
  }

  /** The docId the client opened `name` as, if open. */
  docId(name: string): number | undefined {
    return [...this.open.entries()].find(([, d]) => d.name === name)?.[0]
  }

  /** Inner messages of `name`'s doc-frames received so far, by type. */
  innerTypes(name: string): string[] {
    const id = this.docId(name)
    return this.messages.flatMap((m) => (m.type === 'doc-frame' && m.docId === id ? [decodeMessage(m.message).type] : []))
  }

  accept(): void {
    if (this.closed || this.socket.readyState !== 0) return
    this.socket.readyState = 1
    this.socket.onopen?.({})
    if (this.relay.mode === 'old') queueMicrotask(() => this.drop(CLOSE_CODES.INVALID_MESSAGE, 'ERR_INVALID_NAME'))
    if (this.relay.mode === 'plain') this.send(encodeMessage({ type: 'sync-step1', stateVector: new Uint8Array([0]) }))
  }

  /** The relay (or the network) ends the connection. */
  drop(code = 1006, reason = ''): void {
    if (this.closed) return
    this.closed = true
    this.closeCode = code
    this.socket.readyState = 3
    queueMicrotask(() => this.socket.onclose?.({ code, reason }))
  }

  /** The relay closes one document. */
  closeDoc(name: string, code: number, reason: string): void {
    const docId = this.docId(name)
    if (docId === undefined) throw new Error(`${name} is not open`)
    this.open.delete(docId)
    this.send(encodeMessage({ type: 'doc-closed', docId, closeCode: code, reason }))
  }

  /** Relay → client, as one frame. */
  send(bytes: Uint8Array): void {
    if (this.closed) return
    const data = bytes.slice().buffer
    queueMicrotask(() => {
      if (this.socket.readyState === 1) this.socket.onmessage?.({ data })
    })
  }

  /** An update to a document from elsewhere: to this connection, unless it came from it. */
  forward(name: string, update: Uint8Array, origin: unknown): void {
    if (origin === this) return
    const id = this.docId(name)
    if (id !== undefined) this.reply([frameFor(id, { type: 'sync-update', update })])
  }

  clientClosed(code: number): void {
    this.closed = true
    this.closeCode = code
  }

  receive(bytes: Uint8Array): void {
    if (this.closed || this.relay.mode !== 'mux') return
    const message = decodeMessage(bytes)
    this.frames.push(message)
    const out: Uint8Array[] = []
    for (const entry of message.type === 'batch' ? message.messages.map((b) => decodeMessage(b)) : [message]) this.handle(entry, out)
    this.reply(out)
  }

  /** Several replies go out as one batch, as a real relay's would. */
  private reply(out: Uint8Array[]): void {
    if (out.length === 1) this.send(out[0] as Uint8Array)
    else if (out.length > 1) this.send(encodeMessage({ type: 'batch', messages: out }))
  }

  private handle(message: Message, out: Uint8Array[]): void {
    switch (message.type) {
      case 'hello':
        out.push(encodeMessage({ type: 'hello', version: PROTOCOL_VERSION, role: 'relay', nodeId: 'fake', region: 'r1', features: FEATURE_MULTIPLEX | FEATURE_ACKS }))
        return
      case 'auth-token':
        this.tokens.push(message.token)
        return
      case 'doc-open': {
        if (this.open.has(message.docId)) {
          this.drop(CLOSE_CODES.INVALID_MESSAGE, 'docId in use')
          return
        }
        const refusal = this.relay.refuse(message.docName)
        if (refusal !== null) {
          out.push(encodeMessage({ type: 'doc-closed', docId: message.docId, closeCode: refusal.code, reason: refusal.reason }))
          return
        }
        this.relay.doc(message.docName)
        this.open.set(message.docId, { name: message.docName, count: 0 })
        return
      }
      case 'doc-close':
        this.open.delete(message.docId)
        out.push(encodeMessage({ type: 'doc-closed', docId: message.docId, closeCode: 1000, reason: '' }))
        return
      case 'doc-frame': {
        const doc = this.open.get(message.docId)
        if (doc !== undefined) this.handleDoc(message.docId, doc, decodeMessage(message.message), out)
        return
      }
      default:
        throw new Error(`fake relay: unexpected connection-level ${message.type}`)
    }
  }

  private handleDoc(docId: number, open: OpenDoc, message: Message, out: Uint8Array[]): void {
    const doc = this.relay.doc(open.name)
    switch (message.type) {
      case 'hello':
        out.push(frameFor(docId, { type: 'hello', version: PROTOCOL_VERSION, role: 'relay', nodeId: 'fake', region: 'r1', features: FEATURE_ACKS }))
        return
      case 'sync-step1':
        out.push(frameFor(docId, { type: 'sync-step2', update: Y.encodeStateAsUpdate(doc, message.stateVector) }))
        out.push(frameFor(docId, { type: 'sync-step1', stateVector: Y.encodeStateVector(doc) }))
        return
      case 'sync-step2':
      case 'sync-update':
        open.count++
        Y.applyUpdate(doc, message.update, this)
        out.push(frameFor(docId, { type: 'ack', upTo: open.count }))
        return
      default:
        return
    }
  }
}

const frameFor = (docId: number, message: Message): Uint8Array => encodeMessage({ type: 'doc-frame', docId, message: encodeMessage(message) })

class FakeClientSocket implements WebSocketLike {
  binaryType = 'blob'
  readyState = 0
  bufferedAmount = 0
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  private readonly connection: FakeConnection

  constructor(readonly url: string, relay: FakeMuxRelay) {
    const base = relay.down.has(url.slice(0, url.indexOf(MUX_PATH))) ? null : url
    this.connection = new FakeConnection(url, relay, this)
    relay.connections.push(this.connection)
    if (!url.includes(MUX_PATH)) throw new Error(`fake relay: not a mux URL: ${url}`)
    if (base === null) {
      this.connection.drop(1006, '')
      return
    }
    if (!relay.holdOpen) queueMicrotask(() => this.connection.accept())
  }

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error('fake socket: not open')
    const copy = data.slice()
    queueMicrotask(() => this.connection.receive(copy))
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return
    this.readyState = 3
    this.connection.clientClosed(code)
    queueMicrotask(() => this.onclose?.({ code, reason }))
  }
}
