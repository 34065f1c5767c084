/**
 * The relay's public API: build one, configure it, mint tokens, read its
 * errors and close codes. Its parts (rooms, the mesh, the bus bridge, metrics)
 * are reachable for tests and tools from `@meridian/relay/internal`, with no
 * stability promise.
 */
export { buildRelay, type Relay } from './server.js'
export { DEFAULT_RELAY_OPTIONS, resolveRelayOptions, type HistoryOptions, type RelayOptions, type ResolvedHistoryOptions, type ResolvedRelayOptions } from './options.js'
export { HistoryService } from './history/history-service.js'
export { DEFAULT_AUTO_VERSION_OPTIONS, DEFAULT_RETENTION } from '@meridian/history'
export { AutoVersions, countsAsActivity } from './history/auto-versions.js'
export { RelayError, isRelayError, RELAY_ERROR_CODES, CLOSE_CODES, type RelayErrorCode } from './errors.js'
export { parseDocName, MAX_DOC_NAME_BYTES } from './doc-name.js'
export { DEFAULT_MESH_OPTIONS, resolveMeshOptions, type MeshOptions } from './mesh/options.js'
export type { MeshStatus, RegionStatus } from './mesh/mesh.js'
export {
  mintToken,
  accessFor,
  resolveAuthOptions,
  DEFAULT_CLOCK_TOLERANCE_MS,
  MAX_TOKEN_BYTES,
  MAX_GRANTS,
  type Access,
  type AuthOptions,
  type JwtAuthOptions,
  type DocGrant,
  type TokenClaims,
  type MintTokenOptions,
  type VerifyResult
} from './auth.js'
export { DEFAULT_HARDENING_OPTIONS, type HardeningOptions, type RateLimitOptions, type HttpRateLimitOptions, type PreAuthOptions } from './hardening-options.js'
export type { StatusProvider } from './status.js'
export { DEFAULT_BUS_BRIDGE_OPTIONS, type BusBridge, type BusBridgeOptions, type BusBridgeStats } from './bus-bridge.js'
export type { DocumentPolicy, DocumentModeState } from './doc-modes.js'
export type { ChangeSource } from './change-source.js'
export { SOCKET_CONNECTING, SOCKET_OPEN, type RelaySocket, type UpgradeInfo, type DialSocket } from './transport.js'
export { DEFAULT_WEBHOOK_OPTIONS, DEFAULT_WEBHOOK_TIMING, backoffDelayMs } from './changes/webhook-options.js'
export type { ChangeFeedOptions, WebhookOptions, WebhookTimingOptions, WebhookPost, DeadLetter, DeliveryOutcome, WebhookOutcome } from './changes/index.js'
export { signatureHeaders } from './changes/signature.js'
export { authorizeDocRequest, type DocAuthResult } from './docs/http-auth.js'
