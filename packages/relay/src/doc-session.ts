/**
 * One document on one socket: loading it, then the sync protocol in its room
 * (y-websocket for everyone; after a Meridian HELLO also cumulative acks,
 * status and replication reports, the delete-set digest), read-only access and
 * documents. Its host — the socket owner of a single-document socket
 * (connection.ts), or one document of a multiplexed socket (mux-doc-host.ts) —
 * hands it frames and ends the socket (or the document) when the session says so.
 */
import * as Y from 'yjs'
import {
  FEATURE_DS_DIGEST,
  FEATURE_REPLICATION,
  FEATURE_STATUS,
  encodeMessage,
  type Message
} from '@meridian/protocol'
import type { RawData } from 'ws'
import type { Logger } from 'pino'
import { CLOSE_CODES, RelayError, isRelayError } from './errors.js'
import type { Room, RoomPeer } from './room.js'
import type { Access } from './auth.js'
import type { GuaranteedConnection } from './guarantees.js'
import type { Broadcast } from './broadcast.js'
import { labelOf, type RejectReason } from './metrics.js'
import type { TokenBucket } from './limits.js'
import { DeleteExchange } from './delete-exchange.js'
import { ReplicationProgress } from './replication-progress.js'
import { negotiateHello } from './hello.js'
import { WriteAcks } from './write-acks.js'
import { loadRefusal } from './connection-end.js'
import { decodeFrame, type QueuedFrame } from './frames.js'
import { applyWritable, handleReadOnlyUpdate } from './session-writes.js'
import { answerBudgetFor, answerDeletes, answerSyncStep1 } from './session-sync.js'
import type { DocSessionDeps, SessionHost } from './session-host.js'

/** Messages a socket may send while its document is still loading. */
const MAX_QUEUED_BEFORE_LOAD = 256

/** A session's states; every transition is in this file, every reader switches over all of them. */
export type SessionState =
  /** The room is loading; frames wait (bounded), decoded once it opened. */
  | { readonly kind: 'loading'; readonly queue: QueuedFrame[]; queuedBytes: number }
  /** In the room: messages are handled. */
  | { readonly kind: 'open'; readonly room: Room }
  /** Left the room (or never joined it); frames are dropped. */
  | { readonly kind: 'closed' }

export class DocSession implements RoomPeer, GuaranteedConnection {
  private state: SessionState
  /** Whether the client sent a Meridian HELLO (it gets acks and fatal `error` messages). */
  meridian = false
  /** Features agreed in HELLO. */
  private features = 0
  /** Registered with the guarantees for status and replication reports. */
  private attached = false
  /** With FEATURE_REPLICATION agreed: what other regions hold of this session's writes. */
  private replication: ReplicationProgress | null = null
  /** With FEATURE_DS_DIGEST agreed: the delete-set digest exchange. */
  private deletes: DeleteExchange | null = null
  readonly acks: WriteAcks
  private ackScheduled = false
  private answerBudget: TokenBucket | null = null

  constructor(
    private readonly host: SessionHost,
    private readonly d: DocSessionDeps,
    readonly docName: string,
    private accessLevel: Access,
    held: QueuedFrame[],
    heldBytes: number
  ) {
    this.state = { kind: 'loading', queue: held, queuedBytes: heldBytes }
    this.acks = new WriteAcks(d.metrics.ackLatencySeconds)
  }

  get id(): string {
    return this.host.id
  }

  get log(): Logger {
    return this.host.log
  }

  get access(): Access {
    return this.accessLevel
  }

  get isOpen(): boolean {
    return this.state.kind === 'open'
  }

  /**
   * Changes the access (a refreshed token may grant more or less). Returns
   * whether an open session's access changed: its host moves it in its gauge.
   */
  setAccess(access: Access): boolean {
    const changed = this.accessLevel !== access
    this.accessLevel = access
    return changed && this.state.kind === 'open'
  }

  /** Loads the document; the session opens when it is in memory, or the socket is refused. */
  load(): void {
    const { rooms, metrics } = this.d
    rooms.acquire(this.docName).then(
      (room) => {
        metrics.documentLoads.inc({ result: 'ok' })
        switch (this.state.kind) {
          case 'closed':
            rooms.release(room)
            return
          case 'open':
            rooms.release(room) // loaded twice: cannot happen (one load per session); keep the hold balanced
            return
          case 'loading':
            this.open(room, this.state.queue)
        }
      },
      (err: unknown) => {
        const refused = loadRefusal(err)
        if (refused.refused === 'doc_load_failed') {
          metrics.documentLoads.inc({ result: 'error' })
          this.host.log.error({ err }, 'document load failed')
        }
        this.host.end('other', refused)
      }
    ).catch((err: unknown) => {
      // A bug while opening or handling what came during the load: only this socket pays for it.
      this.host.log.error({ err }, 'unexpected error opening the document: closing the connection')
      this.host.end('other', { error: new RelayError('ERR_PROTOCOL'), closeCode: CLOSE_CODES.INTERNAL_ERROR })
    })
  }

  /** Joins the room, starts the y-websocket handshake, then handles what came while loading. */
  private open(room: Room, queued: QueuedFrame[]): void {
    this.state = { kind: 'open', room }
    this.host.opened(this.accessLevel)
    room.addPeer(this)
    this.send(encodeMessage({ type: 'sync-step1', stateVector: Y.encodeStateVector(room.doc) }))
    const awareness = room.encodeAwarenessState()
    if (awareness !== null) this.send(awareness)
    for (const frame of queued) {
      if (frame.kind === 'raw') this.frame(frame.data, frame.isBinary)
      else if (this.state.kind === 'open') {
        this.d.metrics.messageIn(labelOf(frame.message.type), frame.bytes)
        this.handle(room, frame.message)
      }
    }
  }

  /** One frame for this document: decoded (once) and handled. */
  frame(data: RawData, isBinary: boolean): void {
    if (this.state.kind !== 'open') return
    const decoded = decodeFrame(data, isBinary, this.d.decodeLimits, this.d.metrics)
    if (!decoded.ok) {
      this.count(decoded.rejected)
      this.reject(decoded.error, decoded.closeCode)
      return
    }
    this.d.metrics.messageIn(labelOf(decoded.message.type), decoded.bytes)
    this.handle(this.state.room, decoded.message)
  }

  /** A frame while loading: held, or false when the bounded queue is full. */
  hold(frame: QueuedFrame, size: number): boolean {
    switch (this.state.kind) {
      case 'loading': {
        const s = this.state
        if (s.queue.length >= MAX_QUEUED_BEFORE_LOAD || s.queuedBytes + size > this.d.maxBufferedBytes) return false
        s.queue.push(frame)
        s.queuedBytes += size
        return true
      }
      case 'open':
      case 'closed':
        return true // not waiting: nothing to hold (a frame that raced the close)
    }
  }

  /** The socket ended: leaves the room (idempotent). */
  close(): void {
    const state = this.state
    this.state = { kind: 'closed' }
    switch (state.kind) {
      case 'loading':
        state.queue.length = 0
        return
      case 'closed':
        return
      case 'open':
        this.deletes?.close()
        if (this.attached) this.d.guarantees?.detach(this)
        state.room.removePeer(this)
        this.d.rooms.release(state.room)
    }
  }

  send(message: Uint8Array): void {
    if (this.state.kind === 'open') this.host.send(message)
  }

  deliver(broadcast: Broadcast): boolean {
    return this.state.kind === 'open' && this.host.deliver(broadcast, this)
  }

  /** The room failed (a storage write failed): the client resyncs on a new socket; or it was deleted: the client stops. */
  fail(error: RelayError): void {
    this.reject(error, error.code === 'ERR_DOC_DELETED' ? CLOSE_CODES.DOC_DELETED : CLOSE_CODES.INTERNAL_ERROR)
  }

  reject(error: RelayError, closeCode: number): void {
    if (this.state.kind === 'open') this.host.reject(error, closeCode)
  }

  count(reason: RejectReason): void {
    this.d.metrics.rejectedMessages.inc({ reason })
  }

  private handle(room: Room, message: Message): void {
    switch (message.type) {
      case 'sync-step1':
        answerSyncStep1(this, room, message.stateVector, this.deletes, (this.features & FEATURE_DS_DIGEST) !== 0)
        return
      case 'sync-step2':
      case 'sync-update': {
        const seq = this.acks.receive()
        if (this.accessLevel === 'read') handleReadOnlyUpdate(this, room, seq, message.update, 'ERR_READ_ONLY')
        // The document's home region is unreachable: refused like a read-only token's write.
        else if (this.d.guarantees?.isReadOnly(room.name) === true) handleReadOnlyUpdate(this, room, seq, message.update, 'ERR_DOC_READ_ONLY')
        else applyWritable(this, room, seq, message.update, this.d.docSize)
        return
      }
      case 'awareness': {
        try {
          // Only ids this connection introduced (one for a read-only one), relay clocks, capped states.
          const limits = this.d.awarenessLimits
          const dropped = room.applyPeerAwareness(message.update, this, {
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
        this.host.refreshToken(message.token)
        return
      case 'ds-digest':
      case 'ds-ranges':
        answerDeletes(this, room, message, this.deletes)
        return
      case 'query-awareness': {
        const awareness = room.encodeAwarenessState()
        if (awareness !== null) this.send(awareness)
        return
      }
      case 'hello':
        this.hello(room, message)
        return
      case 'auth-denied':
      case 'ack':
      case 'error':
      case 'ds-reply':
      case 'status':
      case 'replicated':
        // Meaningless from a client; ignored rather than fatal, as y-websocket does.
        return
      case 'doc-open':
      case 'doc-close':
      case 'doc-closed':
      case 'doc-frame':
      case 'batch':
        this.host.nested(message.type)
        return
      default: {
        const unknown: never = message
        return unknown
      }
    }
  }

  /** Feature negotiation (hello.ts), then what the agreed features start. */
  private hello(room: Room, message: Extract<Message, { type: 'hello' }>): void {
    const g = this.d.guarantees
    const outcome = negotiateHello(message, { nodeId: this.d.nodeId, region: this.d.region, extraFeatures: g?.features ?? 0 })
    switch (outcome.kind) {
      case 'refused':
        this.reject(outcome.error, CLOSE_CODES.INVALID_MESSAGE)
        return
      case 'agreed':
        break
    }
    this.meridian = true
    this.features = outcome.features
    this.send(outcome.reply)
    if ((this.features & (FEATURE_STATUS | FEATURE_REPLICATION)) !== 0 && g !== undefined && !this.attached) {
      this.attached = true
      g.attach(this)
    }
    if ((this.features & FEATURE_DS_DIGEST) === 0) {
      this.deletes?.close()
      this.deletes = null
    } else if (this.deletes === null) {
      this.deletes = new DeleteExchange(() => room.deleteLog(), outcome.clientNodeId)
    }
    this.replication = (this.features & FEATURE_REPLICATION) === 0 || g === undefined
      ? null
      : this.replication ?? new ReplicationProgress({
        guarantees: g,
        committed: () => this.acks.committed,
        report: (regions, upTo) => this.send(encodeMessage({ type: 'replicated', regions, upTo }))
      })
    this.sendStatus()
    if (this.acks.committed > 0) this.scheduleAck()
  }

  /** Bytes of sync-step2 answers this session may still get (each may be the whole document): made on first use. */
  answerBytes(): TokenBucket {
    return (this.answerBudget ??= answerBudgetFor(this.d.docSize.maxBytes))
  }

  /** The node id the client gave in HELLO when it agreed the digest exchange (the delete log tells its writes by it). */
  get clientNodeId(): string | null {
    return this.deletes === null || this.deletes.nodeId === '' ? null : this.deletes.nodeId
  }

  sendStatus(): void {
    const g = this.d.guarantees
    if (g === undefined || (this.features & FEATURE_STATUS) === 0) return
    this.send(encodeMessage({ type: 'status', ...g.status(this.docName) }))
  }

  /** The mesh numbered this session's latest write for replication tracking (through its change source). */
  readonly noteTrackedWrite = (trackedSeq: number): void => {
    this.replication?.note(this.acks.received, trackedSeq)
  }

  /** Commits here or confirmations from other regions may have advanced what `replicated` can report. */
  replicationProgress(): void {
    this.replication?.schedule()
  }

  /** Message `seq` is durable: acknowledged (once per burst) and reported to replication. */
  markCommitted(seq: number): void {
    if (!this.acks.commit(seq)) return
    // Other regions may have acknowledged before this commit landed: report what is now reportable.
    this.replication?.schedule()
    if (this.meridian) this.scheduleAck()
  }

  /** Acks are cumulative, so a burst of commits is acknowledged by one message. */
  private scheduleAck(): void {
    if (this.ackScheduled) return
    this.ackScheduled = true
    queueMicrotask(() => {
      this.ackScheduled = false
      this.send(encodeMessage({ type: 'ack', upTo: this.acks.committed }))
    })
  }
}
