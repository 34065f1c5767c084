import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import {
  DeleteSync,
  FEATURE_ACKS,
  FEATURE_DS_DIGEST,
  decodeMessage,
  deleteRangesOfUpdate,
  encodeMessage,
  encodeUpdateWithoutOldDeletes,
  unionDeleteRanges
} from '@meridian/protocol'

/**
 * Which framing a server speaks. `y-websocket` is the plain protocol (Meridian
 * relays and @y/websocket-server speak it; so does the raw ceiling server);
 * `meridian` is the same plus the HELLO a Meridian client sends first (the
 * relay then acknowledges committed updates); `hocuspocus` prefixes every
 * message with the document name and sends an auth message first.
 */
export type Flavor = 'y-websocket' | 'meridian' | 'hocuspocus'

const MESSAGE_SYNC = 0
const MESSAGE_AUTH = 2
const HOCUSPOCUS_SYNC_REPLY = 4
const MESSAGE_MERIDIAN = 100
const SYNC_STEP1 = 0
const SYNC_STEP2 = 1
const SYNC_UPDATE = 2
/** An empty Yjs update (no structs, empty delete set). */
const EMPTY_UPDATE = new Uint8Array([0, 0])
/** An empty state vector. */
const EMPTY_STATE_VECTOR = new Uint8Array([0])

export interface RawClientOptions {
  /** Server base URL, `ws://host:port`. */
  url: string
  docName: string
  flavor: Flavor
  /**
   * With a doc the client syncs for real (answers the server's step 1 with what
   * the server lacks, applies what it receives). Without one it is a
   * lightweight receiver: it answers with an empty update and only counts.
   */
  doc?: Y.Doc | undefined
  /**
   * The client's local updates the server has not acknowledged (edits made
   * offline). A Meridian client with a doc sends their deletes with its step 2
   * and checks the rest of the delete set by digest (FEATURE_DS_DIGEST), as
   * the SDK does with its outbox.
   */
  pending?: readonly Uint8Array[] | undefined
  /** Meridian: the id in HELLO, the same on every connection of one client (as the SDK's provider does). Default ''. */
  nodeId?: string | undefined
  /** Called for every `sync-update` received, after `updates` was incremented. */
  onUpdate?: ((client: RawClient) => void) | undefined
}

/**
 * A minimal y-websocket-protocol client (lib0 encoders, ws): no provider, no
 * awareness, no reconnects. Every benchmark drives every server with this same
 * client, so the client's cost is identical whichever server is measured.
 */
export class RawClient {
  /** Payload bytes received / sent (WebSocket message bodies, without frame headers). */
  bytesIn = 0
  bytesOut = 0
  messagesIn = 0
  /** `sync-update` messages received. */
  updates = 0
  synced = false
  readonly options: RawClientOptions
  private readonly prefix: Uint8Array
  private ws: WebSocket | null = null
  private syncWaiters: { resolve: () => void; reject: (e: Error) => void }[] = []
  private closed: Promise<void> | null = null
  private error: Error | null = null
  /** Meridian with a doc: the server's step 1, held until its HELLO says which features it agreed. */
  private heldStep1: Uint8Array | null = null
  private helloSeen = false
  private readonly deleteSync = new DeleteSync()
  private digestAgreed = false

  constructor(options: RawClientOptions) {
    this.options = options
    if (options.flavor === 'hocuspocus') {
      const encoder = encoding.createEncoder()
      encoding.writeVarString(encoder, options.docName)
      this.prefix = encoding.toUint8Array(encoder)
    } else {
      this.prefix = new Uint8Array(0)
    }
  }

  /** Opens the socket and starts the handshake; resolves once the socket is open. */
  connect(timeoutMs = 10_000): Promise<void> {
    const { url, docName, flavor } = this.options
    const target = flavor === 'hocuspocus' ? url : `${url}/${encodeURIComponent(docName)}`
    const ws = new WebSocket(target, { perMessageDeflate: false })
    this.ws = ws
    ws.binaryType = 'nodebuffer'
    ws.on('message', this.onMessage)
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connect to ${target} timed out`)), timeoutMs)
      ws.once('open', () => {
        clearTimeout(timer)
        this.startHandshake()
        resolve()
      })
      ws.once('error', (err) => {
        clearTimeout(timer)
        this.fail(err)
        reject(err)
      })
      ws.once('close', (code) => {
        if (!this.synced) this.fail(new Error(`closed (${code}) before synced`))
      })
    })
  }

  /** Resolves once the server's step 2 (the answer to our step 1) arrived. */
  whenSynced(timeoutMs = 30_000): Promise<void> {
    if (this.synced) return Promise.resolve()
    if (this.error !== null) return Promise.reject(this.error)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.options.docName}: not synced within ${timeoutMs} ms`)), timeoutMs)
      this.syncWaiters.push({
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        }
      })
    })
  }

  /** Encodes a `sync-update` for this client's server (done ahead of time by throughput benchmarks). */
  frameUpdate(update: Uint8Array): Uint8Array {
    return this.frame(SYNC_UPDATE, update)
  }

  send(frame: Uint8Array): void {
    const ws = this.ws
    if (ws === null || ws.readyState !== WebSocket.OPEN) throw new Error('send on a socket that is not open')
    this.bytesOut += frame.length
    ws.send(frame)
  }

  sendUpdate(update: Uint8Array): void {
    this.send(this.frameUpdate(update))
  }

  /** Closes and resolves once the socket is closed (terminated if the close handshake stalls). */
  async close(timeoutMs = 5_000): Promise<void> {
    const ws = this.ws
    if (ws === null || this.closed === null) return
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000)
    let timer: ReturnType<typeof setTimeout> | undefined
    const stalled = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        ws.terminate()
        resolve()
      }, timeoutMs)
    })
    await Promise.race([this.closed, stalled])
    clearTimeout(timer)
  }

  private startHandshake(): void {
    const { flavor, doc } = this.options
    if (flavor === 'meridian') {
      // HELLO: version 1, role "client", empty node id and region, FEATURE_ACKS (and, holding a
      // document, FEATURE_DS_DIGEST).
      const features = FEATURE_ACKS | (doc !== undefined ? FEATURE_DS_DIGEST : 0)
      this.send(encodeMessage({ type: 'hello', version: 1, role: 'client', nodeId: this.options.nodeId ?? '', region: '', features }))
    } else if (flavor === 'hocuspocus') {
      // Auth first (token message, empty token); the server queues what follows until it is done.
      const e = encoding.createEncoder()
      encoding.writeUint8Array(e, this.prefix)
      encoding.writeVarUint(e, MESSAGE_AUTH)
      encoding.writeVarUint(e, 0)
      encoding.writeVarString(e, '')
      this.send(encoding.toUint8Array(e))
    }
    this.send(this.frame(SYNC_STEP1, doc !== undefined ? Y.encodeStateVector(doc) : EMPTY_STATE_VECTOR))
  }

  private frame(subtype: number, payload: Uint8Array): Uint8Array {
    const e = encoding.createEncoder()
    encoding.writeUint8Array(e, this.prefix)
    encoding.writeVarUint(e, MESSAGE_SYNC)
    encoding.writeVarUint(e, subtype)
    encoding.writeVarUint8Array(e, payload)
    return encoding.toUint8Array(e)
  }

  private readonly onMessage = (data: Buffer): void => {
    this.bytesIn += data.length
    this.messagesIn++
    // Every type and subtype used here is below 128, so each is one byte.
    const at = this.prefix.length
    const type = data[at]
    if (type === MESSAGE_MERIDIAN && this.options.doc !== undefined) {
      this.onMeridian(data)
      return
    }
    if (type !== MESSAGE_SYNC && type !== HOCUSPOCUS_SYNC_REPLY) return // awareness, auth, acks, sync status…
    const subtype = data[at + 1]
    if (subtype === SYNC_UPDATE) {
      this.updates++
      if (this.options.doc !== undefined) Y.applyUpdate(this.options.doc, this.payload(data, at), this)
      this.options.onUpdate?.(this)
    } else if (subtype === SYNC_STEP2) {
      if (this.options.doc !== undefined) Y.applyUpdate(this.options.doc, this.payload(data, at), this)
      // With the digest exchange the round ends with the server's ds-reply.
      if (!this.digestAgreed) this.markSynced()
    } else if (subtype === SYNC_STEP1) {
      const doc = this.options.doc
      if (doc !== undefined && this.options.flavor === 'meridian' && !this.helloSeen) {
        this.heldStep1 = this.payload(data, at)
        return
      }
      const update = doc !== undefined ? Y.encodeStateAsUpdate(doc, this.payload(data, at)) : EMPTY_UPDATE
      this.send(this.frame(SYNC_STEP2, update))
    }
  }

  private markSynced(): void {
    if (this.synced) return
    this.synced = true
    for (const w of this.syncWaiters.splice(0)) w.resolve()
  }

  /** Type-100 messages, for a Meridian client holding a document: HELLO and the digest exchange. */
  private onMeridian(data: Buffer): void {
    const doc = this.options.doc
    if (doc === undefined) return
    const message = decodeMessage(data)
    if (message.type === 'hello') {
      this.helloSeen = true
      this.digestAgreed = (message.features & FEATURE_DS_DIGEST) !== 0
      const sv = this.heldStep1
      this.heldStep1 = null
      if (sv === null) return
      if (!this.digestAgreed) {
        this.send(this.frame(SYNC_STEP2, Y.encodeStateAsUpdate(doc, sv)))
        return
      }
      const pendingDeletes = unionDeleteRanges((this.options.pending ?? []).map(deleteRangesOfUpdate))
      this.send(this.frame(SYNC_STEP2, encodeUpdateWithoutOldDeletes(doc, sv, pendingDeletes)))
      this.send(encodeMessage(this.deleteSync.begin(doc, sv)))
    } else if (message.type === 'ds-reply') {
      if (!this.deleteSync.pending) return
      const step = this.deleteSync.onReply(doc, message, true)
      if (step.apply !== null) Y.applyUpdate(doc, step.apply, this)
      if (step.update !== null) this.sendUpdate(step.update)
      if (step.ranges !== null) this.send(encodeMessage(step.ranges))
      if (step.done) this.markSynced()
    }
  }

  private payload(data: Buffer, at: number): Uint8Array {
    const decoder = decoding.createDecoder(data)
    decoder.pos = at + 2
    return decoding.readVarUint8Array(decoder)
  }

  private fail(error: Error): void {
    if (this.error !== null) return
    this.error = error
    for (const w of this.syncWaiters.splice(0)) w.reject(error)
  }
}
