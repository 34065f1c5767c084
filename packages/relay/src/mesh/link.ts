import type { Logger } from 'pino'
import type { RawData } from 'ws'
import type { Clock } from '@meridian/policy'
import { SOCKET_CONNECTING, SOCKET_OPEN, type RelaySocket } from '../transport.js'
import { MESH_CLOSE_CODES, decodeMeshMessage, encodeMeshMessage, type MeshMember, type MeshMessage } from '@meridian/protocol'

export interface LinkHandlers {
  onHello(link: MeshLink, remote: MeshMember): void
  onMessage(link: MeshLink, message: MeshMessage): void
  onClose(link: MeshLink): void
}

/** Per-link counters: what crossed this link, by message type. */
export interface LinkStats {
  messagesSent: Partial<Record<MeshMessage['type'], number>>
  messagesReceived: Partial<Record<MeshMessage['type'], number>>
  bytesSentByType: Partial<Record<MeshMessage['type'], number>>
  bytesReceivedByType: Partial<Record<MeshMessage['type'], number>>
  bytesSent: number
  bytesReceived: number
}

let nextLinkId = 1

/**
 * One WebSocket between two relays, either dialed or accepted. It speaks only
 * mesh messages; the first one each way is `mesh-hello`. It is also the
 * transaction origin of everything applied from it, so room listeners can
 * tell which link (and so which region) a change came from.
 */
export class MeshLink {
  readonly id = nextLinkId++
  readonly direction: 'dialed' | 'accepted'
  readonly url: string | null
  remote: MeshMember | null = null
  readonly stats: LinkStats = { messagesSent: {}, messagesReceived: {}, bytesSentByType: {}, bytesReceivedByType: {}, bytesSent: 0, bytesReceived: 0 }
  lastReceivedMs: number
  private readonly socket: RelaySocket
  private readonly clock: Clock
  private readonly handlers: LinkHandlers
  private readonly log: Logger
  private readonly maxMessageBytes: number
  private readonly maxBufferedBytes: number
  private closed = false

  constructor(options: {
    socket: RelaySocket
    clock: Clock
    direction: 'dialed' | 'accepted'
    url: string | null
    self: MeshMember
    handlers: LinkHandlers
    logger: Logger
    maxMessageBytes: number
    maxBufferedBytes: number
  }) {
    this.socket = options.socket
    this.clock = options.clock
    this.direction = options.direction
    this.url = options.url
    this.handlers = options.handlers
    this.log = options.logger
    this.maxMessageBytes = options.maxMessageBytes
    this.maxBufferedBytes = options.maxBufferedBytes
    this.lastReceivedMs = options.clock.now()
    this.socket.on('message', (data: RawData, isBinary: boolean) => this.onRaw(data, isBinary))
    this.socket.on('close', () => this.finish())
    this.socket.on('error', (err) => this.log.debug({ err }, 'mesh link socket error'))
    const hello = (): void => void this.send({ type: 'mesh-hello', ...options.self })
    if (this.socket.readyState === SOCKET_OPEN) hello()
    else this.socket.once('open', hello)
  }

  get isOpen(): boolean {
    return !this.closed && this.socket.readyState === SOCKET_OPEN
  }

  /** Queues a message; false if the link is closed or too far behind (then it is closed: the peer resyncs by anti-entropy). */
  send(message: MeshMessage): boolean {
    if (!this.isOpen) return false
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.log.warn({ peer: this.remote?.nodeId, bufferedBytes: this.socket.bufferedAmount }, 'mesh link too far behind: closing')
      this.close(1013, 'backlog')
      return false
    }
    const bytes = encodeMeshMessage(message)
    this.stats.messagesSent[message.type] = (this.stats.messagesSent[message.type] ?? 0) + 1
    this.stats.bytesSent += bytes.byteLength
    this.stats.bytesSentByType[message.type] = (this.stats.bytesSentByType[message.type] ?? 0) + bytes.byteLength
    this.socket.send(bytes, { binary: true }, (err) => {
      if (err !== undefined && err !== null) this.log.debug({ err }, 'mesh send failed')
    })
    return true
  }

  close(code = 1000, reason = ''): void {
    if (this.socket.readyState === SOCKET_OPEN || this.socket.readyState === SOCKET_CONNECTING) {
      try {
        this.socket.close(code, reason)
      } catch {
        this.socket.terminate()
      }
    }
    // A blackholed peer never answers the close handshake: do not wait for it.
    this.clock.setTimeout(() => this.socket.terminate(), 1_000)
    this.finish()
  }

  private onRaw(data: RawData, isBinary: boolean): void {
    if (this.closed) return
    if (!isBinary) {
      this.close(1003, 'binary only')
      return
    }
    const bytes = Array.isArray(data) ? new Uint8Array(Buffer.concat(data)) : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    let message: MeshMessage
    try {
      message = decodeMeshMessage(bytes, { maxMessageBytes: this.maxMessageBytes })
    } catch (err) {
      this.log.warn({ err, peer: this.remote?.nodeId }, 'undecodable mesh message: closing link')
      this.close(MESH_CLOSE_CODES.INVALID_MESSAGE, 'undecodable mesh message')
      return
    }
    this.lastReceivedMs = this.clock.now()
    this.stats.messagesReceived[message.type] = (this.stats.messagesReceived[message.type] ?? 0) + 1
    this.stats.bytesReceived += bytes.byteLength
    this.stats.bytesReceivedByType[message.type] = (this.stats.bytesReceivedByType[message.type] ?? 0) + bytes.byteLength
    if (message.type === 'mesh-hello') {
      if (this.remote !== null) return
      const { type: _type, ...remote } = message
      this.remote = remote
      this.handlers.onHello(this, remote)
      return
    }
    if (this.remote === null) {
      this.close(MESH_CLOSE_CODES.INVALID_MESSAGE, 'hello first')
      return
    }
    this.handlers.onMessage(this, message)
  }

  private finish(): void {
    if (this.closed) return
    this.closed = true
    this.handlers.onClose(this)
  }
}
