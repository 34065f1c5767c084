/** What a document socket (connection.ts) is given by the relay's set of them (doc-socket.ts). */
import type { Logger } from 'pino'
import type { DecodeLimits } from '@meridian/protocol'
import type { ResolvedRelayOptions } from './options.js'
import type { Authenticator, VerifyResult } from './auth.js'
import type { ConnectionLimiter } from './limits.js'
import type { Deadlines, Scheduled } from './deadlines.js'
import type { RelayMetrics } from './metrics.js'
import type { DocSessionDeps } from './doc-session.js'

/** What the upgrade found out, before the socket exists. */
export interface Admission {
  originAllowed: boolean
  /** The token's verification, when one came with the upgrade request. */
  verified: VerifyResult | null
}

/** What a connection needs of the relay's set of document sockets (doc-socket.ts). */
export interface ConnectionHub<C extends Scheduled> {
  readonly options: ResolvedRelayOptions
  readonly logger: Logger
  readonly metrics: RelayMetrics
  readonly authenticator: Authenticator | null
  readonly limiter: ConnectionLimiter
  readonly decodeLimits: DecodeLimits
  readonly deadlines: Deadlines<C>
  /** One object shared by every session. */
  readonly sessionDeps: DocSessionDeps
  /** The socket closed. */
  ended(connection: C): void
}
