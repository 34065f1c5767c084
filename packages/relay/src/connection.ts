import type { WebSocket, RawData } from 'ws'
import type { Logger } from 'pino'
import * as Y from 'yjs'
import {
  FEATURE_ACKS,
  PROTOCOL_VERSION,
  encodeMessage,
  isProtocolError,
  tryDecodeMessage,
  validateStateVector,
  type DecodeLimits,
  type Message
} from '@meridian/protocol'
import { CLOSE_CODES, RelayError, isRelayError } from './errors.js'
import type { Room, RoomPeer } from './room.js'

export interface ConnectionOptions {
  id: string
  socket: WebSocket
  room: Room
  logger: Logger
  nodeId: string
  region: string
  limits: DecodeLimits
  /** Past this many bytes queued for a socket, the peer is too slow: disconnect it (it resyncs on return). */
  maxBufferedBytes: number
  onClose: (connection: Connection) => void
}

/**
 * One client socket in one room. Speaks y-websocket to everyone; after a
 * Meridian HELLO it also acknowledges committed updates (cumulatively: ack(n)
 * means the first n update-bearing messages of this connection are durable).
 */
export class Connection implements RoomPeer {
  readonly id: string
  private readonly socket: WebSocket
  private readonly room: Room
  private readonly log: Logger
  private readonly options: ConnectionOptions
  private meridian = false
  private received = 0
  private committed = 0
  private ackScheduled = false
  private closed = false

  constructor(options: ConnectionOptions) {
    this.options = options
    this.id = options.id
    this.socket = options.socket
    this.room = options.room
    this.log = options.logger.child({ conn: options.id })
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
      this.reject(new RelayError('ERR_PROTOCOL', 'text frames are not part of the protocol'), CLOSE_CODES.UNSUPPORTED_DATA)
      return
    }
    const bytes = toUint8Array(data)
    const decoded = tryDecodeMessage(bytes, this.options.limits)
    if (!decoded.ok) {
      const code = decoded.error.code === 'ERR_PROTOCOL_OVERSIZED' ? CLOSE_CODES.MESSAGE_TOO_BIG : CLOSE_CODES.INVALID_MESSAGE
      this.reject(new RelayError('ERR_PROTOCOL', decoded.error.code, { cause: decoded.error }), code)
      return
    }
    this.handleMessage(decoded.message)
  }

  send(message: Uint8Array): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return
    if (this.socket.bufferedAmount > this.options.maxBufferedBytes) {
      this.log.warn({ bufferedBytes: this.socket.bufferedAmount }, 'slow consumer: disconnecting')
      this.close(CLOSE_CODES.TRY_AGAIN_LATER, 'slow consumer')
      return
    }
    this.socket.send(message, { binary: true }, (err) => {
      if (err !== undefined && err !== null) this.log.debug({ err }, 'send failed')
    })
  }

  fail(error: RelayError): void {
    this.reject(error, CLOSE_CODES.INTERNAL_ERROR)
  }

  /** Socket closed (by either side): leave the room. Idempotent. */
  dispose(): void {
    if (this.closed) return
    this.closed = true
    this.room.removePeer(this)
    this.options.onClose(this)
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
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
        const update = Y.encodeStateAsUpdate(this.room.doc, message.stateVector)
        this.send(encodeMessage({ type: 'sync-step2', update }))
        return
      }
      case 'sync-step2':
      case 'sync-update': {
        const seq = ++this.received
        this.room.applyUpdate(message.update, this).then(
          () => this.markCommitted(seq),
          (err: unknown) => {
            const error = isRelayError(err) ? err : new RelayError('ERR_STORAGE_WRITE', undefined, { cause: err })
            this.reject(error, error.code === 'ERR_UPDATE_INVALID' ? CLOSE_CODES.INVALID_UPDATE : CLOSE_CODES.INTERNAL_ERROR)
          }
        )
        return
      }
      case 'awareness':
        try {
          this.room.applyAwareness(message.update, this)
        } catch (err) {
          this.reject(isRelayError(err) ? err : new RelayError('ERR_AWARENESS_INVALID'), CLOSE_CODES.INVALID_MESSAGE)
        }
        return
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
          features: FEATURE_ACKS
        }))
        if (this.committed > 0) this.scheduleAck()
        return
      case 'auth-denied':
      case 'ack':
      case 'error':
        // Meaningless from a client; ignored rather than fatal, as y-websocket does.
        return
    }
  }

  private markCommitted(seq: number): void {
    if (seq <= this.committed) return
    this.committed = seq
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

  private reject(error: RelayError, closeCode: number): void {
    if (this.closed) return
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
