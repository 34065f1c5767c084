import type { RawData } from 'ws'
import { SOCKET_CONNECTING, SOCKET_OPEN, type RelaySocket } from './transport.js'
import type { Logger } from 'pino'
import * as Y from 'yjs'
import {
  FEATURE_ACKS,
  FEATURE_DS_DIGEST,
  FEATURE_REPLICATION,
  FEATURE_STATUS,
  PROTOCOL_VERSION,
  encodeMessage,
  isProtocolError,
  tryDecodeMessage,
  validateStateVector,
  type DsReplyFields,
  type Message
} from '@meridian/protocol'
import { CLOSE_CODES, RelayError, isRelayError } from './errors.js'
import type { Room, RoomPeer } from './room.js'
import type { Access } from './auth.js'
import type { GuaranteedConnection } from './guarantees.js'
import { labelOf, type CloseReason, type RejectReason } from './metrics.js'
import { updateIsKnown } from './hostile.js'
import { leftPending, pendingOf, restorePending } from './yjs-internals.js'
import { frameBinaryMessages, type Broadcast } from './broadcast.js'
import { frameWriterOf, type FrameStream } from './ws-internals.js'
import { ReplicationProgress } from './replication-progress.js'
import type { UpdateInspection } from './update-guard.js'
import { TokenBucket } from './limits.js'
import { DEFAULT_AWARENESS_LIMITS } from './awareness-guard.js'
import { DeleteExchange } from './delete-exchange.js'
import { CLOSE_REASONS, type ConnectionOptions } from './connection-options.js'

export type { ConnectionOptions } from './connection-options.js'

const BINARY = { binary: true } as const

/**
 * Bytes of sync-step2 answers per connection, in documents of
 * `maxDocumentBytes`: a client syncs once per connection (a y-websocket client
 * with `resyncInterval` once per interval), so two whole documents at once and
 * one every ten seconds is plenty; a client asking for more is closed (4429).
 * Small documents are never limited in practice.
 */
export const SYNC_ANSWER_RATE = { documentsPerSecond: 0.1, burstDocuments: 2, burstSlackBytes: 64 * 1024 } as const
/** Direct sends up to this size are framed here (copied once); larger ones go through `ws`. */
const SMALL_MESSAGE_BYTES = 16 * 1024

/**
 * One client socket in one room. Speaks y-websocket to everyone; after a
 * Meridian HELLO it also acknowledges committed updates (cumulatively: ack(n)
 * means the first n update-bearing messages of this connection are durable).
 */
export class Connection implements RoomPeer, GuaranteedConnection {
  readonly id: string
  private readonly socket: RelaySocket
  /** For a `ws` socket: where pre-framed broadcasts can be written (see broadcast.ts); null: through `send`. */
  private readonly frameWriter: (() => FrameStream | null) | null
  private readonly room: Room
  private logger: Logger | null = null
  private readonly options: ConnectionOptions
  private meridian = false
  /** Features agreed in HELLO. */
  private features = 0
  /** With FEATURE_REPLICATION agreed: what other regions hold of this connection's writes. */
  private replication: ReplicationProgress | null = null
  private attached = false
  private received = 0
  private committed = 0
  private ackScheduled = false
  /** With FEATURE_DS_DIGEST agreed: the delete-set digest exchange. */
  private deletes: DeleteExchange | null = null
  private closed = false
  private accessLevel: Access
  /** First update-bearing message refused on this connection: acks, being cumulative, stop before it. */
  private refusedAt: number | null = null
  /** Bytes of sync-step2 answers this connection may still get (each may be the whole document): made on first use. */
  private answerBudget: TokenBucket | null = null
  /** Arrival times of update-bearing messages not yet committed, for the ack latency histogram. */
  private arrivals: [seq: number, atMs: number][] = []
  /** Why the relay ended this connection (null: the client did, or not ended). */
  endReason: CloseReason | null = null

  constructor(options: ConnectionOptions) {
    this.options = options
    this.id = options.id
    this.socket = options.socket
    this.frameWriter = frameWriterOf(options.socket)
    this.room = options.room
    this.accessLevel = options.access ?? 'write'
  }

  /** This connection's logger, made when it first logs (a pino child per socket is memory most sockets never use). */
  private get log(): Logger {
    return (this.logger ??= this.options.logger.child({ ...this.options.logBindings, conn: this.id }))
  }

  get access(): Access {
    return this.accessLevel
  }

  /** Changes the access (a refreshed token may grant more or less). */
  setAccess(access: Access): void {
    this.accessLevel = access
  }

  /** Joins the room and starts the y-websocket handshake. */
  start(): void {
    this.room.addPeer(this)
    this.send(encodeMessage({ type: 'sync-step1', stateVector: Y.encodeStateVector(this.room.doc) }))
    const awareness = this.room.encodeAwarenessState()
    if (awareness !== null) this.send(awareness)
  }

  handleRaw(data: RawData, isBinary: boolean): void {
    if (this.closed) return
    if (!isBinary) {
      this.count('text_frame')
      this.reject(new RelayError('ERR_PROTOCOL', 'text frames are not part of the protocol'), CLOSE_CODES.UNSUPPORTED_DATA)
      return
    }
    const bytes = toUint8Array(data)
    const decoded = tryDecodeMessage(bytes, this.options.limits)
    if (!decoded.ok) {
      const oversized = decoded.error.code === 'ERR_PROTOCOL_OVERSIZED'
      this.options.metrics?.messageIn('invalid', bytes.length)
      this.count(oversized ? 'oversized' : 'malformed')
      this.reject(new RelayError('ERR_PROTOCOL', decoded.error.code, { cause: decoded.error }), oversized ? CLOSE_CODES.MESSAGE_TOO_BIG : CLOSE_CODES.INVALID_MESSAGE)
      return
    }
    this.options.metrics?.messageIn(labelOf(decoded.message.type), bytes.length)
    this.handleMessage(decoded.message)
  }

  send(message: Uint8Array): void {
    if (this.closed || this.socket.readyState !== SOCKET_OPEN) return
    if (!this.hasRoomFor(message.length)) return
    this.options.metrics?.messageOut(message)
    // Small messages (acks, status, most handshakes) as one pre-framed write; large ones through
    // `ws`, which writes the header and the payload without copying it.
    const stream = message.length <= SMALL_MESSAGE_BYTES ? (this.frameWriter?.() ?? null) : null
    if (stream !== null) {
      stream.write(frameBinaryMessages([message]))
      return
    }
    this.socket.send(message, BINARY, (err) => {
      if (err !== undefined && err !== null && this.options.logger.isLevelEnabled('debug')) this.log.debug({ err }, 'send failed')
    })
  }

  /**
   * The room's broadcast of a turn (metrics are counted by the room, once):
   * for a `ws` socket the frames are written in one go — the same buffer for
   * every socket that gets all of them — else each message is sent.
   */
  deliver(broadcast: Broadcast): boolean {
    if (this.closed || this.socket.readyState !== SOCKET_OPEN) return false
    const all = broadcast.getsAll(this)
    const messages = all ? null : broadcast.messagesFor(this)
    if (messages !== null && messages.length === 0) return false
    let bytes = broadcast.bytes
    if (messages !== null) {
      bytes = 0
      for (const m of messages) bytes += m.length
    }
    if (!this.hasRoomFor(bytes)) return false
    const stream = this.frameWriter?.() ?? null
    if (stream !== null) {
      stream.write(messages === null ? broadcast.framedForAll() : frameBinaryMessages(messages))
    } else if (messages === null) {
      for (const e of broadcast.entries) this.socket.send(e.message, BINARY)
    } else {
      for (const m of messages) this.socket.send(m, BINARY)
    }
    return true
  }

  /**
   * False (and the connection dropped) when `bytes` more would take what is
   * queued for this socket past `maxBufferedBytes`: the peer is too slow.
   */
  private hasRoomFor(bytes: number): boolean {
    const buffered = this.socket.bufferedAmount
    if (buffered === 0 || buffered + bytes <= this.options.maxBufferedBytes) return true
    // Destroyed at once, not closed: a close frame would queue behind what it does not read,
    // and the buffer would be held until the close timeout.
    this.log.warn({ bufferedBytes: buffered }, 'slow consumer: disconnecting')
    this.endReason ??= 'slow_consumer'
    this.socket.terminate()
    this.dispose()
    return false
  }

  fail(error: RelayError): void {
    this.reject(error, CLOSE_CODES.INTERNAL_ERROR)
  }

  /** Socket closed (by either side): leave the room. Idempotent. */
  dispose(): void {
    if (this.closed) return
    this.closed = true
    this.deletes?.close()
    if (this.attached) this.options.guarantees?.detach(this)
    this.room.removePeer(this)
    this.options.onClose()
  }

  close(code: number, reason: string, why?: CloseReason): void {
    if (why !== undefined) this.endReason ??= why
    if (this.socket.readyState === SOCKET_OPEN || this.socket.readyState === SOCKET_CONNECTING) {
      this.socket.close(code, reason.slice(0, 120))
    }
    this.dispose()
  }

  private handleMessage(message: Message): void {
    switch (message.type) {
      case 'sync-step1': {
        try {
          validateStateVector(message.stateVector)
        } catch (err) {
          this.reject(new RelayError('ERR_PROTOCOL', 'malformed state vector', { cause: err }), CLOSE_CODES.INVALID_MESSAGE)
          return
        }

        // With FEATURE_DS_DIGEST the deletes of structs the client holds are checked by digest
        // (its ds-digest follows); a joiner with nothing holds no such struct.
        this.deletes?.onStep1()
        const update = this.room.diffFor(message.stateVector, (this.features & FEATURE_DS_DIGEST) !== 0 ? 'new-deletes' : 'all-deletes')
        // Each answer may be the whole document (cached, but still sent): a client asking over and over is cut off.
        if (this.answerBytes().take(update.length, performance.now()) > 0) {
          this.count('rate_limited')
          this.reject(new RelayError('ERR_RATE_LIMITED', 'too many sync-step1 answers'), CLOSE_CODES.RATE_LIMITED)
          return
        }
        this.send(encodeMessage({ type: 'sync-step2', update }))
        // Every sync round ends with a status report: the client's staleness bound starts here.
        this.sendStatus()
        return
      }
      case 'sync-step2':
      case 'sync-update': {
        const seq = ++this.received
        if (this.options.metrics !== undefined) this.arrivals.push([seq, performance.now()])
        if (this.accessLevel === 'read') {
          this.handleReadOnlyUpdate(seq, message.update)
          return
        }
        if (this.options.guarantees?.isReadOnly(this.room.name) === true) {
          // The document's home region is unreachable: refused like a read-only token's write.
          this.handleReadOnlyUpdate(seq, message.update, 'ERR_DOC_READ_ONLY')
          return
        }
        let inspection: UpdateInspection
        try {
          inspection = this.room.inspect(message.update)
        } catch (err) {
          const error = isRelayError(err) ? err : new RelayError('ERR_UPDATE_INVALID', undefined, { cause: err })
          this.count(error.code === 'ERR_UPDATE_TOO_DEEP' ? 'too_deep' : error.code === 'ERR_UPDATE_TOO_COSTLY' ? 'too_costly' : 'invalid_update')
          this.reject(error, CLOSE_CODES.INVALID_UPDATE)
          return
        }
        // The size the document will have: a delete set cutting items adds an item per cut.
        if (this.options.docSize?.wouldExceed(this.room, inspection.growthBytes) === true) {
          this.count('doc_too_large')
          this.reject(new RelayError('ERR_DOC_TOO_LARGE', `limit is ${this.options.docSize.maxBytes} bytes`), CLOSE_CODES.DOC_TOO_LARGE)
          return
        }
        const pendingBefore = pendingOf(this.room.doc)
        const applied = this.room.applyUpdate(message.update, { kind: 'client', peer: this, nodeId: this.clientNodeId, tracked: this.noteTrackedWrite }, { inspection })
        if (leftPending(this.room.doc, pendingBefore)) {
          // Whatever integrated is valid and already queued for storage; the rest would live
          // in memory only, acknowledged yet lost on restart. Drop it; the client resends it.
          restorePending(this.room.doc, pendingBefore)
          applied.catch(() => undefined)
          this.count('missing_deps')
          this.reject(new RelayError('ERR_UPDATE_MISSING_DEPS'), CLOSE_CODES.INVALID_UPDATE)
          return
        }
        applied.then(
          () => this.markCommitted(seq),
          (err: unknown) => {
            const error = isRelayError(err) ? err : new RelayError('ERR_STORAGE_WRITE', undefined, { cause: err })
            const refused = error.code === 'ERR_UPDATE_INVALID' || error.code === 'ERR_UPDATE_TOO_DEEP' || error.code === 'ERR_UPDATE_TOO_COSTLY'
            if (refused) this.count('invalid_update')
            this.reject(error, refused ? CLOSE_CODES.INVALID_UPDATE : CLOSE_CODES.INTERNAL_ERROR)
          }
        )
        return
      }
      case 'awareness': {
        try {
          // Only ids this connection introduced (one for a read-only one), relay clocks, capped states.
          const limits = this.options.awarenessLimits ?? DEFAULT_AWARENESS_LIMITS
          const dropped = this.room.applyPeerAwareness(message.update, this, {
            maxIds: this.accessLevel === 'read' ? 1 : limits.maxIdsPerConnection,
            maxStateBytes: limits.maxStateBytes
          })
          if (dropped > 0) this.count('awareness_not_own')
        } catch (err) {
          this.count('invalid_awareness')
          this.reject(isRelayError(err) ? err : new RelayError('ERR_AWARENESS_INVALID', undefined, { cause: err }), CLOSE_CODES.INVALID_MESSAGE)
        }
        return
      }
      case 'auth-token':
        this.options.onAuthToken?.(message.token)
        return
      case 'ds-digest':
      case 'ds-ranges': {
        // Not agreed: ignored (the client's step 2 had every delete anyway).
        let reply: DsReplyFields | null = null
        try {
          reply = this.deletes?.answer(this.room.doc, message) ?? null
        } catch (err) {
          this.reject(new RelayError('ERR_PROTOCOL', `malformed ${message.type}`, { cause: err }), CLOSE_CODES.INVALID_MESSAGE)
          return
        }
        if (reply !== null) this.send(encodeMessage({ type: 'ds-reply', ...reply }))
        return
      }
      case 'query-awareness': {
        const awareness = this.room.encodeAwarenessState()
        if (awareness !== null) this.send(awareness)
        return
      }
      case 'hello':
        if (message.role !== 'client') {
          this.reject(new RelayError('ERR_PROTOCOL', 'relay links use the mesh endpoint'), CLOSE_CODES.INVALID_MESSAGE)
          return
        }
        this.meridian = true
        this.send(encodeMessage({
          type: 'hello',
          version: PROTOCOL_VERSION,
          role: 'relay',
          nodeId: this.options.nodeId,
          region: this.options.region,
          features: (this.features = message.features & (FEATURE_ACKS | FEATURE_DS_DIGEST | (this.options.guarantees?.features ?? 0)))
        }))
        if ((this.features & (FEATURE_STATUS | FEATURE_REPLICATION)) !== 0 && this.options.guarantees !== undefined && !this.attached) {
          this.attached = true
          this.options.guarantees.attach(this)
        }
        if ((this.features & FEATURE_DS_DIGEST) === 0) {
          this.deletes?.close()
          this.deletes = null
        } else if (this.deletes === null) {
          // Bounded like any string field, and only a client's own: the delete log keys departures by it.
          this.deletes = new DeleteExchange(() => this.room.deleteLog(), message.nodeId.slice(0, 128))
        }
        this.replication = (this.features & FEATURE_REPLICATION) === 0 || this.options.guarantees === undefined
          ? null
          : this.replication ?? new ReplicationProgress({
            guarantees: this.options.guarantees,
            committed: () => this.committed,
            report: (regions, upTo) => this.send(encodeMessage({ type: 'replicated', regions, upTo }))
          })
        this.sendStatus()
        if (this.committed > 0) this.scheduleAck()
        return
      case 'auth-denied':
      case 'ack':
      case 'error':
      case 'ds-reply':
      case 'status':
      case 'replicated':
        // Meaningless from a client; ignored rather than fatal, as y-websocket does.
        return
    }
  }

  private answerBytes(): TokenBucket {
    const doc = this.options.docSize?.maxBytes ?? 8 * 1024 * 1024
    const { documentsPerSecond, burstDocuments, burstSlackBytes } = SYNC_ANSWER_RATE
    return (this.answerBudget ??= new TokenBucket(doc * documentsPerSecond, doc * burstDocuments + burstSlackBytes, performance.now()))
  }

  /** The node id the client gave in HELLO when it agreed the digest exchange (the delete log tells its writes by it). */
  get clientNodeId(): string | null {
    return this.deletes === null || this.deletes.nodeId === '' ? null : this.deletes.nodeId
  }

  get docName(): string {
    return this.room.name
  }

  sendStatus(): void {
    const g = this.options.guarantees
    if (g === undefined || (this.features & FEATURE_STATUS) === 0) return
    this.send(encodeMessage({ type: 'status', ...g.status(this.room.name) }))
  }

  /** The mesh numbered this connection's latest write for replication tracking (through its change source). */
  private readonly noteTrackedWrite = (trackedSeq: number): void => {
    this.replication?.note(this.received, trackedSeq)
  }

  /** Commits here or confirmations from other regions may have advanced what `replicated` can report. */
  replicationProgress(): void {
    this.replication?.schedule()
  }

  /**
   * A read-only connection's update is never applied. If the document already
   * has all of it (the handshake reply of a client with nothing new), it is
   * acknowledged like a committed one; otherwise it is refused: not applied, not
   * broadcast, an error to the client, and no ack from then on (acks are
   * cumulative). The connection stays open for reading (for a document
   * the policy made read-only it is closed instead: see below).
   */
  private handleReadOnlyUpdate(seq: number, update: Uint8Array, code: 'ERR_READ_ONLY' | 'ERR_DOC_READ_ONLY' = 'ERR_READ_ONLY'): void {
    let known: boolean
    try {
      known = updateIsKnown(this.room.doc, update)
    } catch (cause) {
      this.count('invalid_update')
      this.reject(new RelayError('ERR_UPDATE_INVALID', undefined, { cause }), CLOSE_CODES.INVALID_UPDATE)
      return
    }
    if (known) {
      if (this.refusedAt === null) void this.room.flush().then(() => this.markCommitted(seq))
      return
    }
    this.count('read_only')
    const error = new RelayError(code, 'the update was not applied')
    if (code === 'ERR_DOC_READ_ONLY') {
      // Fatal: acks are cumulative, so the connection could acknowledge nothing after this write.
      // The client reconnects, is told the document is read-only, and holds its writes.
      this.reject(error, CLOSE_CODES.DOC_READ_ONLY)
      return
    }
    this.refusedAt ??= seq
    this.log.info({ code }, 'refused a write on a read-only connection')
    this.send(encodeMessage(this.meridian
      ? { type: 'error', code: error.code, message: error.message, fatal: false }
      : { type: 'auth-denied', reason: 'read-only' }))
  }

  private count(reason: RejectReason): void {
    this.options.metrics?.rejectedMessages.inc({ reason })
  }

  private markCommitted(seq: number): void {
    if (seq <= this.committed) return
    if (this.refusedAt !== null && seq >= this.refusedAt) return
    this.committed = seq
    // Other regions may have acknowledged before this commit landed: report what is now reportable.
    this.replication?.schedule()
    if (this.arrivals.length > 0) {
      const now = performance.now()
      while (this.arrivals.length > 0 && (this.arrivals[0]?.[0] ?? Infinity) <= seq) {
        const arrival = this.arrivals.shift()
        if (arrival !== undefined) this.options.metrics?.ackLatencySeconds.observe((now - arrival[1]) / 1000)
      }
      // Drained: let go of the array's backing store (it stays as large as the largest burst otherwise).
      if (this.arrivals.length === 0) this.arrivals = []
    }
    if (this.meridian) this.scheduleAck()
  }

  /** Acks are cumulative, so a burst of commits is acknowledged by one message. */
  private scheduleAck(): void {
    if (this.ackScheduled) return
    this.ackScheduled = true
    queueMicrotask(() => {
      this.ackScheduled = false
      this.send(encodeMessage({ type: 'ack', upTo: this.committed }))
    })
  }

  /** Ends the connection because of `error`: logged, sent to a Meridian client as a fatal `error`, closed with `closeCode`. */
  reject(error: RelayError, closeCode: number): void {
    if (this.closed) return
    this.endReason ??= CLOSE_REASONS[error.code] ?? 'other'
    this.log.info({ code: error.code, reason: error.message, closeCode }, 'closing connection')
    if (this.meridian) {
      // Decode failures carry the decoder's own code on the wire (PROTOCOL.md, "Errors").
      const code = isProtocolError(error.cause) ? error.cause.code : error.code
      this.send(encodeMessage({ type: 'error', code, message: error.message, fatal: true }))
    }
    this.close(closeCode, error.code)
  }
}

function toUint8Array(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data))
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}
