/**
 * A bare multiplexed client for relay tests (`/_meridian/mux`): every frame it
 * receives is kept, batches and doc-frames unpacked into events, and tests
 * await specific events instead of sleeping. Each open document answers the
 * relay's sync step 1 and applies updates, like RawClient does for one.
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import {
  FEATURE_ACKS,
  FEATURE_MULTIPLEX,
  MUX_PATH,
  PROTOCOL_VERSION,
  decodeMessage,
  encodeMessage,
  encodeMuxMessage,
  type Message
} from '@meridian/protocol'

/** One received message: connection-level (`docId` null) or of a document. */
export interface MuxEvent {
  readonly docId: number | null
  readonly message: Message
}

type Waiter = { match: (e: MuxEvent) => boolean; resolve: (e: MuxEvent) => void }

export interface MuxClientOptions {
  /** Send the connection-level hello with FEATURE_MULTIPLEX first (default true). */
  hello?: boolean
  query?: Record<string, string>
  headers?: Record<string, string>
}

export class MuxClient {
  /** Every frame as it came (a batch is one). */
  readonly frames: Message[] = []
  /** Every message, batches and doc-frames unpacked, in order. */
  readonly events: MuxEvent[] = []
  readonly docs = new Map<number, Y.Doc>()
  closeEvent: { code: number; reason: string } | null = null
  private waiters: Waiter[] = []
  private closeWaiters: ((e: { code: number; reason: string }) => void)[] = []

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const message = decodeMessage(new Uint8Array(data))
      this.frames.push(message)
      this.receive(message)
    })
    socket.on('close', (code, reason) => {
      this.closeEvent = { code, reason: reason.toString() }
      for (const w of this.closeWaiters) w(this.closeEvent)
    })
  }

  static connect(url: string, options: MuxClientOptions = {}): Promise<MuxClient> {
    const query = options.query === undefined ? '' : `?${new URLSearchParams(options.query).toString()}`
    const socket = new WebSocket(`${url}${MUX_PATH}${query}`, { headers: options.headers })
    const client = new MuxClient(socket)
    return new Promise((resolve, reject) => {
      socket.once('open', () => {
        if (options.hello ?? true) client.send({ type: 'hello', version: PROTOCOL_VERSION, role: 'client', nodeId: 'mux-test', region: '', features: FEATURE_MULTIPLEX })
        resolve(client)
      })
      socket.once('error', reject)
    })
  }

  /** A connection-level message. */
  send(message: Message): void {
    this.socket.send(encodeMessage(message))
  }

  /** One message of document `docId`, in a doc-frame. */
  sendDoc(docId: number, message: Message): void {
    this.socket.send(encodeMuxMessage({ type: 'doc-frame', docId, message: encodeMessage(message) }))
  }

  /** Several messages in one batch frame. */
  sendBatch(messages: Message[]): void {
    this.socket.send(encodeMuxMessage({ type: 'batch', messages: messages.map((m) => encodeMessage(m)) }))
  }

  /** The messages that open `docName` as `docId` (doc-open, then the document's hello unless `features` is null). */
  openMessages(docId: number, docName: string, features: number | null = FEATURE_ACKS): Message[] {
    this.docs.set(docId, new Y.Doc())
    const out: Message[] = [{ type: 'doc-open', docId, docName }]
    if (features !== null) {
      const hello = encodeMessage({ type: 'hello', version: PROTOCOL_VERSION, role: 'client', nodeId: 'mux-test', region: '', features })
      out.push({ type: 'doc-frame', docId, message: hello })
    }
    return out
  }

  /** Opens `docName` as `docId` (a fresh Y.Doc), each message in its own frame. */
  open(docId: number, docName: string, features: number | null = FEATURE_ACKS): void {
    for (const m of this.openMessages(docId, docName, features)) this.send(m)
  }

  /** The document of `docId`. */
  doc(docId: number): Y.Doc {
    const doc = this.docs.get(docId)
    if (doc === undefined) throw new Error(`doc ${docId} was not opened`)
    return doc
  }

  /** A local edit of `docId`, sent as a sync update. */
  edit(docId: number, fn: (doc: Y.Doc) => void): void {
    const doc = this.doc(docId)
    const onUpdate = (update: Uint8Array, origin: unknown): void => {
      if (origin !== 'remote') this.sendDoc(docId, { type: 'sync-update', update })
    }
    doc.on('update', onUpdate)
    try {
      fn(doc)
    } finally {
      doc.off('update', onUpdate)
    }
  }

  /** The first event (received or to come) that matches. */
  next(match: (e: MuxEvent) => boolean, what = 'event', timeoutMs = 5_000): Promise<MuxEvent> {
    const found = this.events.find(match)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs)
      this.waiters.push({ match, resolve: (e) => { clearTimeout(timer); resolve(e) } })
    })
  }

  /** The first message of `type` for document `docId` (null: connection-level) that matches. */
  async nextOf<T extends Message['type']>(docId: number | null, type: T, match: (m: Extract<Message, { type: T }>) => boolean = () => true): Promise<Extract<Message, { type: T }>> {
    const e = await this.next((e) => e.docId === docId && e.message.type === type && match(e.message as Extract<Message, { type: T }>), `${type} for ${String(docId)}`)
    return e.message as Extract<Message, { type: T }>
  }

  /** The doc-closed of `docId` (the first one still to be looked at after `after` events). */
  async docClosed(docId: number, after = 0): Promise<{ closeCode: number; reason: string }> {
    const e = await this.next((e) => this.events.indexOf(e) >= after && e.docId === null && e.message.type === 'doc-closed' && e.message.docId === docId, `doc-closed ${docId}`)
    const m = e.message as Extract<Message, { type: 'doc-closed' }>
    return { closeCode: m.closeCode, reason: m.reason }
  }

  /** Messages received for `docId`. */
  of(docId: number | null): Message[] {
    return this.events.filter((e) => e.docId === docId).map((e) => e.message)
  }

  closed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    if (this.closeEvent !== null) return Promise.resolve(this.closeEvent)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socket not closed within ${timeoutMs} ms`)), timeoutMs)
      this.closeWaiters.push((e) => { clearTimeout(timer); resolve(e) })
    })
  }

  close(): Promise<{ code: number; reason: string }> {
    this.socket.close()
    return this.closed()
  }

  private receive(message: Message): void {
    switch (message.type) {
      case 'batch':
        for (const entry of message.messages) this.receive(decodeMessage(entry))
        return
      case 'doc-frame':
        this.receiveDoc(message.docId, decodeMessage(message.message))
        return
      default:
        this.emit({ docId: null, message })
    }
  }

  private receiveDoc(docId: number, message: Message): void {
    const doc = this.docs.get(docId)
    if (doc !== undefined) {
      if (message.type === 'sync-step2' || message.type === 'sync-update') Y.applyUpdate(doc, message.update, 'remote')
      if (message.type === 'sync-step1') this.sendDoc(docId, { type: 'sync-step2', update: Y.encodeStateAsUpdate(doc, message.stateVector) })
    }
    this.emit({ docId, message })
  }

  private emit(e: MuxEvent): void {
    this.events.push(e)
    for (const w of [...this.waiters]) {
      if (!w.match(e)) continue
      this.waiters.splice(this.waiters.indexOf(w), 1)
      w.resolve(e)
    }
  }
}
