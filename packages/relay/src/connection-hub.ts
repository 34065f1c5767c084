/** What a document socket (socket-owner.ts) is given by the relay's set of them (doc-socket.ts), and what it offers it. */
import type { Logger } from 'pino'
import type { DecodeLimits } from '@meridian/protocol'
import type { ResolvedRelayOptions } from './options.js'
import type { Access, Authenticator, TokenClaims, VerifyResult } from './auth.js'
import type { ConnectionLimiter } from './limits.js'
import type { Deadlines, Scheduled } from './deadlines.js'
import type { CloseReason, RelayMetrics } from './metrics.js'
import type { SilentEnd, SocketError } from './connection-end.js'
import type { DocSessionDeps } from './session-host.js'

/** What the upgrade found out, before the socket exists. */
export interface Admission {
  originAllowed: boolean
  /** The token's verification, when one came with the upgrade request. */
  verified: VerifyResult | null
}

/** A document socket as the relay's set of them (doc-socket.ts) sees it. */
export interface HubSocket extends Scheduled {
  readonly claims: TokenClaims | null
  /** Whether the socket counts as a connection (its document, or its multiplexed session, is open). */
  readonly isOpen: boolean
  end(reason: SilentEnd): boolean
  end(reason: CloseReason, error: SocketError): boolean
  deadlinePassed(): void
  beat(): void
  clearTimers(): void
  /** Adds the socket's documents to `counts`, by access (status). */
  countAccess(counts: Record<Access, number>): void
}

/** What a connection needs of the relay's set of document sockets (doc-socket.ts). */
export interface ConnectionHub {
  readonly options: ResolvedRelayOptions
  readonly logger: Logger
  readonly metrics: RelayMetrics
  readonly authenticator: Authenticator | null
  readonly limiter: ConnectionLimiter
  readonly decodeLimits: DecodeLimits
  readonly deadlines: Deadlines<HubSocket>
  /** One object shared by every session. */
  readonly sessionDeps: DocSessionDeps
  /** The socket closed. */
  ended(connection: HubSocket): void
}
