import type { Logger } from 'pino'
import type { RawData } from 'ws'
import type { Clock } from '@meridian/base'
import { SOCKET_CONNECTING, SOCKET_OPEN, type RelaySocket } from '../transport.js'
import { MESH_CLOSE_CODES, MESH_HANDSHAKE_VERSION, MESH_NONCE_BYTES, decodeMeshMessage, encodeMeshMessage, type MeshMember, type MeshMessage } from '@meridian/protocol'
import { meshHelloProof, meshNonce, verifyMeshHello, type MeshRole } from './link-auth.js'
import { isValidMember } from './membership.js'

/** Largest frame read before the peer proved itself: a challenge or a hello is well under it. */
export const MESH_PRE_AUTH_MAX_BYTES = 4_096

/** Why a handshake failed (logs, counters, tests). */
export type HandshakeFailure = 'version' | 'malformed' | 'bad-proof' | 'identity-mismatch' | 'invalid-identity' | 'timeout' | 'out-of-order' | 'rebind'

export interface LinkHandlers {
  /** The peer proved `remote` (its identity for the life of the link). */
  onHello(link: MeshLink, remote: MeshMember): void
  onHandshakeFailed(link: MeshLink, reason: HandshakeFailure): void
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
 * mesh messages. The handshake, each way: `mesh-challenge` (a fresh nonce),
 * then `mesh-hello` (the sender's identity and an HMAC with the cluster secret
 * over both nonces, its role and that identity). Nothing else is read before
 * the peer's hello verifies; the identity it proved is the link's for good
 * (`remote`), and any later challenge or hello closes the link. No clock is
 * involved, so relays whose clocks disagree link all the same.
 * The link is also the transaction origin of everything applied from it, so
 * room listeners can tell which link (and so which region) a change came from.
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
  private readonly secret: string
  private readonly self: MeshMember
  private readonly ownNonce: Uint8Array
  private peerNonce: Uint8Array | null = null
  /** Dialing a member known by gossip: the node id its handshake must prove. */
  readonly expectedNodeId: string | null
  private handshakeTimer: ReturnType<Clock['setTimeout']> | null

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
    clusterSecret: string
    expectedNodeId: string | null
    handshakeTimeoutMs: number
    nonce?: () => Uint8Array
  }) {
    this.socket = options.socket
    this.clock = options.clock
    this.direction = options.direction
    this.url = options.url
    this.handlers = options.handlers
    this.log = options.logger
    this.maxMessageBytes = options.maxMessageBytes
    this.maxBufferedBytes = options.maxBufferedBytes
    this.secret = options.clusterSecret
    this.ownNonce = (options.nonce ?? meshNonce)()
    this.self = options.self
    this.expectedNodeId = options.expectedNodeId
    this.lastReceivedMs = options.clock.now()
    this.handshakeTimer = options.clock.setTimeout(() => this.failHandshake('timeout'), options.handshakeTimeoutMs)
    this.socket.on('message', (data: RawData, isBinary: boolean) => this.onRaw(data, isBinary))
    this.socket.on('close', () => this.finish())
    this.socket.on('error', (err) => this.log.debug({ err }, 'mesh link socket error'))
    const challenge = (): void => void this.send({ type: 'mesh-challenge', version: MESH_HANDSHAKE_VERSION, nonce: this.ownNonce })
    if (this.socket.readyState === SOCKET_OPEN) challenge()
    else this.socket.once('open', challenge)
  }

  /** True once the peer proved its identity. */
  get authenticated(): boolean {
    return this.remote !== null
  }

  private get role(): MeshRole {
    return this.direction === 'dialed' ? 'dialer' : 'acceptor'
  }

  private get peerRole(): MeshRole {
    return this.direction === 'dialed' ? 'acceptor' : 'dialer'
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

  private failHandshake(reason: HandshakeFailure): void {
    if (this.closed) return
    this.log.warn({ reason, direction: this.direction, url: this.url, peer: this.remote?.nodeId }, 'mesh handshake refused')
    this.handlers.onHandshakeFailed(this, reason)
    this.close(reason === 'timeout' ? MESH_CLOSE_CODES.SILENT : MESH_CLOSE_CODES.AUTH_FAILED, `ERR_MESH_AUTH: ${reason}`)
  }

  /** The handshake part of the state machine; true if `message` was consumed by it. */
  private handshake(message: MeshMessage): boolean {
    if (message.type === 'mesh-challenge') {
      if (this.peerNonce !== null || this.remote !== null) {
        this.failHandshake('rebind')
        return true
      }
      if (message.version !== MESH_HANDSHAKE_VERSION) {
        this.failHandshake('version')
        return true
      }
      if (message.nonce.byteLength !== MESH_NONCE_BYTES) {
        this.failHandshake('malformed')
        return true
      }
      this.peerNonce = message.nonce
      this.send({ type: 'mesh-hello', ...this.self, proof: meshHelloProof(this.secret, this.role, message.nonce, this.ownNonce, this.self) })
      return true
    }
    if (message.type === 'mesh-hello') {
      // One identity per link: a second hello (another node id, another region) is refused, not merged.
      if (this.remote !== null) {
        this.failHandshake('rebind')
        return true
      }
      if (this.peerNonce === null) {
        this.failHandshake('out-of-order')
        return true
      }
      const { type: _type, proof, ...remote } = message
      if (!verifyMeshHello(this.secret, this.peerRole, this.ownNonce, this.peerNonce, remote, proof)) {
        this.failHandshake('bad-proof')
        return true
      }
      if (!isValidMember(remote)) {
        this.failHandshake('invalid-identity')
        return true
      }
      if (this.expectedNodeId !== null && remote.nodeId !== this.expectedNodeId) {
        this.failHandshake('identity-mismatch')
        return true
      }
      this.clock.clearTimeout(this.handshakeTimer)
      this.handshakeTimer = null
      this.remote = remote
      this.handlers.onHello(this, remote)
      return true
    }
    if (this.remote === null) {
      this.failHandshake('out-of-order')
      return true
    }
    return false
  }

  private onRaw(data: RawData, isBinary: boolean): void {
    if (this.closed) return
    if (!isBinary) {
      this.close(1003, 'binary only')
      return
    }
    const bytes = Array.isArray(data) ? new Uint8Array(Buffer.concat(data)) : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    if (this.remote === null && bytes.byteLength > MESH_PRE_AUTH_MAX_BYTES) {
      this.failHandshake('malformed')
      return
    }
    let message: MeshMessage
    try {
      message = decodeMeshMessage(bytes, { maxMessageBytes: this.remote === null ? MESH_PRE_AUTH_MAX_BYTES : this.maxMessageBytes })
    } catch (err) {
      this.log.warn({ err, peer: this.remote?.nodeId }, 'undecodable mesh message: closing link')
      this.close(MESH_CLOSE_CODES.INVALID_MESSAGE, 'undecodable mesh message')
      return
    }
    this.lastReceivedMs = this.clock.now()
    this.stats.messagesReceived[message.type] = (this.stats.messagesReceived[message.type] ?? 0) + 1
    this.stats.bytesReceived += bytes.byteLength
    this.stats.bytesReceivedByType[message.type] = (this.stats.bytesReceivedByType[message.type] ?? 0) + bytes.byteLength
    if (this.handshake(message)) return
    this.handlers.onMessage(this, message)
  }

  private finish(): void {
    if (this.closed) return
    this.closed = true
    this.clock.clearTimeout(this.handshakeTimer)
    this.handshakeTimer = null
    this.handlers.onClose(this)
  }
}
