import WebSocket from 'ws'
import * as Y from 'yjs'
import { FEATURE_ACKS, PROTOCOL_VERSION, decodeMessage, encodeMessage, type Message } from '@meridian/protocol'

export interface RawClientOptions {
  /** Send a Meridian hello first (default true). */
  hello?: boolean
  /** Features announced in the hello (default acknowledgements). */
  features?: number
  headers?: Record<string, string>
  /** Query parameters, e.g. `{ token }`. */
  query?: Record<string, string>
  ws?: WebSocket.ClientOptions
  /** Give up on the connection after this long (default 5 s). */
  timeoutMs?: number
}

/**
 * A bare protocol client for relay tests: every message it receives is kept,
 * and tests await specific messages instead of sleeping.
 */
/** The `ws` subset a RawClient needs: a `ws` WebSocket, or a simulated relay-style socket (memory mode). */
export interface RawSocket {
  on(event: 'message', listener: (data: Buffer) => void): unknown
  on(event: 'close', listener: (code: number, reason: Buffer) => void): unknown
  once(event: 'open', listener: () => void): unknown
  once(event: 'error', listener: (err: Error) => void): unknown
  send(data: Uint8Array | string): void
  close(): void
  terminate(): void
}

export class RawClient {
  readonly socket: RawSocket
  readonly doc = new Y.Doc()
  readonly received: Message[] = []
  closeEvent: { code: number; reason: string } | null = null
  private waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = []
  private closeWaiters: ((e: { code: number; reason: string }) => void)[] = []

  private constructor(socket: RawSocket) {
    this.socket = socket
    socket.on('message', (data: Buffer) => {
      const message = decodeMessage(new Uint8Array(data))
      this.received.push(message)
      if (message.type === 'sync-step2' || message.type === 'sync-update') Y.applyUpdate(this.doc, message.update, 'remote')
      if (message.type === 'sync-step1') this.send({ type: 'sync-step2', update: Y.encodeStateAsUpdate(this.doc, message.stateVector) })
      for (const w of [...this.waiters]) {
        if (w.match(message)) {
          this.waiters.splice(this.waiters.indexOf(w), 1)
          w.resolve(message)
        }
      }
    })
    socket.on('close', (code, reason) => {
      this.closeEvent = { code, reason: reason.toString() }
      for (const w of this.closeWaiters) w(this.closeEvent)
    })
  }

  static connect(
    url: string,
    docName: string,
    options: RawClientOptions = {}
  ): Promise<RawClient> {
    const query = options.query === undefined ? '' : `?${new URLSearchParams(options.query).toString()}`
    const socket = new WebSocket(`${url}/${encodeURIComponent(docName)}${query}`, { ...options.ws, headers: options.headers })
    return RawClient.over(socket, url, options)
  }

  /** A raw client on a socket that is still connecting (e.g. `MemoryCluster.rawSocket`). */
  static over(socket: RawSocket, url: string, options: Omit<RawClientOptions, 'ws' | 'headers' | 'query'> = {}): Promise<RawClient> {
    const client = new RawClient(socket)
    const timeoutMs = options.timeoutMs ?? 5_000
    return new Promise((resolve, reject) => {
      // A blackholed or stopped relay never answers the upgrade: give up instead of hanging.
      const timer = setTimeout(() => {
        socket.terminate()
        reject(new Error(`no WebSocket connection to ${url} within ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once('open', () => {
        clearTimeout(timer)
        if (options.hello ?? true) {
          client.send({ type: 'hello', version: PROTOCOL_VERSION, role: 'client', nodeId: '', region: '', features: options.features ?? FEATURE_ACKS })
        }
        resolve(client)
      })
      socket.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
    })
  }

  send(message: Message): void {
    this.socket.send(encodeMessage(message))
  }

  sendRaw(data: Uint8Array | string): void {
    this.socket.send(data)
  }

  /** Sends a local edit as a sync update. */
  edit(fn: (doc: Y.Doc) => void): void {
    const onUpdate = (update: Uint8Array, origin: unknown): void => {
      if (origin !== 'remote') this.send({ type: 'sync-update', update })
    }
    this.doc.on('update', onUpdate)
    try {
      fn(this.doc)
    } finally {
      this.doc.off('update', onUpdate)
    }
  }

  next<T extends Message['type']>(type: T, match: (m: Extract<Message, { type: T }>) => boolean = () => true, timeoutMs = 5_000): Promise<Extract<Message, { type: T }>> {
    const found = this.received.find((m) => m.type === type && match(m as Extract<Message, { type: T }>))
    if (found !== undefined) return Promise.resolve(found as Extract<Message, { type: T }>)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} message within ${timeoutMs} ms`)), timeoutMs)
      this.waiters.push({
        match: (m) => m.type === type && match(m as Extract<Message, { type: T }>),
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m as Extract<Message, { type: T }>)
        }
      })
    })
  }

  closed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    if (this.closeEvent !== null) return Promise.resolve(this.closeEvent)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socket not closed within ${timeoutMs} ms`)), timeoutMs)
      this.closeWaiters.push((e) => {
        clearTimeout(timer)
        resolve(e)
      })
    })
  }

  close(): Promise<{ code: number; reason: string }> {
    this.socket.close()
    return this.closed()
  }
}

/** The document as one relay holds it (a fresh raw client's sync step 2). `query` carries a token to an auth-enabled relay. */
export async function relayView(url: string, docName: string, options: { query?: Record<string, string>; timeoutMs?: number } = {}): Promise<Y.Doc> {
  const timeoutMs = options.timeoutMs ?? 5_000
  const c = await RawClient.connect(url, docName, { ...(options.query !== undefined ? { query: options.query } : {}), timeoutMs })
  try {
    c.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    await c.next('sync-step2', () => true, timeoutMs)
  } finally {
    await c.close().catch(() => c.socket.terminate())
  }
  return c.doc
}
