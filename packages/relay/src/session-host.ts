/** What a document session (doc-session.ts) needs of its host and of the relay. */
import type { Logger } from 'pino'
import type { DecodeLimits, MuxMessage } from '@meridian/protocol'
import type { RelayError } from './errors.js'
import type { RoomPeer } from './room-peer.js'
import type { RoomManager } from './rooms.js'
import type { Access } from './auth.js'
import type { RelayGuarantees } from './guarantees.js'
import type { Broadcast } from './broadcast.js'
import type { CloseReason, RelayMetrics } from './metrics.js'
import type { DocSizeGuard } from './limits.js'
import type { AwarenessLimits } from './awareness-guard.js'
import type { SocketError } from './connection-end.js'

/** The socket owner, as a session sees it. */
export interface SessionHost {
  readonly id: string
  readonly log: Logger
  send(message: Uint8Array): void
  deliver(broadcast: Broadcast, peer: RoomPeer): boolean
  /** Ends the socket (and this session) because of `error`. */
  reject(error: RelayError, closeCode: number): void
  /** Ends the socket (before the document opened: a refusal). */
  end(reason: CloseReason, error: SocketError): boolean
  /** The document opened (with `access`): the session joins its room now. */
  opened(access: Access): void
  /** A token arrived on the live socket (a refresh). */
  refreshToken(token: string): void
  /** A multiplexing message among the document's messages: ignored on a single-document socket, a protocol error inside a doc-frame. */
  nested(type: MuxMessage['type']): void
}

export interface DocSessionDeps {
  nodeId: string
  region: string
  rooms: RoomManager
  metrics: RelayMetrics
  docSize: DocSizeGuard
  awarenessLimits: AwarenessLimits
  /** What the decoder accepts (one object for every session). */
  decodeLimits: DecodeLimits
  /** Bytes a socket may queue while its document loads (the socket buffer bound). */
  maxBufferedBytes: number
  guarantees?: RelayGuarantees
}
