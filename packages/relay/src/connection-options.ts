/** What a Connection is given, and how relay errors map to close reasons. */
import type { Logger } from 'pino'
import type { DecodeLimits } from '@meridian/protocol'
import type { RelaySocket } from './transport.js'
import type { RelayErrorCode } from './errors.js'
import type { Room } from './room.js'
import type { Access } from './auth.js'
import type { DocSizeGuard } from './limits.js'
import type { RelayGuarantees } from './guarantees.js'
import type { CloseReason, RelayMetrics } from './metrics.js'
import type { AwarenessLimits } from './awareness-guard.js'

export interface ConnectionOptions {
  id: string
  socket: RelaySocket
  room: Room
  logger: Logger
  /** Bindings of this connection's log lines besides `conn` (its logger is made on the first line: most connections log nothing). */
  logBindings?: Record<string, unknown>
  nodeId: string
  region: string
  limits: DecodeLimits
  /** Past this many bytes queued for a socket, the peer is too slow: disconnect it (it resyncs on return). */
  maxBufferedBytes: number
  /** The connection closed (by either side); its owner reads `endReason` from the connection it holds. */
  onClose: () => void
  /**
   * 'read': update-bearing messages are never applied or broadcast (those that
   * would change something are refused, see PROTOCOL.md "Read-only
   * connections"), and awareness is limited to one client id of its own.
   * Default 'write'.
   */
  access?: Access
  metrics?: RelayMetrics
  /** Refuses client writes that would make the document too large (4413). */
  docSize?: DocSizeGuard
  /** Document modes, status reports and replication progress (the policy layer); absent: none. */
  guarantees?: RelayGuarantees
  /** Awareness ids per connection and state size (awareness-guard.ts); default DEFAULT_AWARENESS_LIMITS. */
  awarenessLimits?: AwarenessLimits
  /** A token arrived on the live connection (a refresh); absent: ignored. */
  onAuthToken?: (token: string) => void
}

/** Which `connections_closed_total` reason a relay error ends a connection with. */
export const CLOSE_REASONS: Partial<Record<RelayErrorCode, CloseReason>> = {
  ERR_PROTOCOL: 'protocol',
  ERR_AWARENESS_INVALID: 'protocol',
  ERR_UPDATE_INVALID: 'invalid_update',
  ERR_UPDATE_MISSING_DEPS: 'invalid_update',
  ERR_UPDATE_TOO_DEEP: 'invalid_update',
  ERR_UPDATE_TOO_COSTLY: 'invalid_update',
  ERR_DOC_BROKEN: 'other',
  ERR_STORAGE_WRITE: 'storage',
  ERR_DOC_TOO_LARGE: 'doc_too_large',
  ERR_AUTH_EXPIRED: 'expired',
  ERR_AUTH_REVOKED: 'revoked',
  ERR_AUTH_FORBIDDEN: 'revoked',
  ERR_RATE_LIMITED: 'rate_limited',
  ERR_SLOW_CONSUMER: 'slow_consumer',
  ERR_IDLE_TIMEOUT: 'idle',
  ERR_RELAY_CLOSED: 'shutdown'
}
