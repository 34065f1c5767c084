export { buildRelay, type Relay } from './server.js'
export { DEFAULT_RELAY_OPTIONS, resolveRelayOptions, type RelayOptions, type ResolvedRelayOptions } from './options.js'
export { RelayError, isRelayError, RELAY_ERROR_CODES, CLOSE_CODES, type RelayErrorCode } from './errors.js'
export { parseDocName, MAX_DOC_NAME_BYTES } from './doc-name.js'
export { Room, type RoomPeer, type RoomChangeListener } from './room.js'
export { RoomManager } from './rooms.js'
export { Mesh, MESH_PATH, type MeshStatus, type RegionStatus } from './mesh/mesh.js'
export { DEFAULT_MESH_OPTIONS, resolveMeshOptions, type MeshOptions } from './mesh/options.js'
export { AE_ORIGIN } from './mesh/anti-entropy.js'
export { MeshLink } from './mesh/link.js'
export { MESH_HEADERS, meshHelloProof, meshNonce, verifyMeshHello, type MeshRole } from './mesh/link-auth.js'
export { MESH_PRE_AUTH_MAX_BYTES, type HandshakeFailure } from './mesh/link.js'
export { isValidRegionName, REGION_NAME_PATTERN } from './mesh/membership.js'
export { DigestIndex, docDigest } from './mesh/digest-index.js'
export type { RegionBacklog } from './mesh/replication.js'
export {
  mintToken,
  accessFor,
  Authenticator,
  RevocationList,
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
export { compileGlob, matchGlob, globMatches } from './glob.js'
export { DEFAULT_HARDENING_OPTIONS, type HardeningOptions, type RateLimitOptions, type PreAuthOptions } from './hardening-options.js'
export { RelayMetrics, type MessageLabel, type RejectReason, type RefuseReason, type CloseReason } from './metrics.js'
export { StatusRegistry, type StatusProvider } from './status.js'
export { TokenBucket, ConnectionLimiter, DocSizeGuard } from './limits.js'
export { attachBus, isBusOrigin, BUS_ORIGIN, BUS_CATCHUP_ORIGIN, BUS_MERGE_ORIGIN, DEFAULT_BUS_BRIDGE_OPTIONS, type BusBridge, type BusBridgeOptions, type BusBridgeStats } from './bus-bridge.js'
export { RelayGuarantees, type GuaranteedConnection } from './guarantees.js'
export { DocumentModes, type DocumentPolicy, type DocumentModeState } from './doc-modes.js'
export { SOCKET_CONNECTING, SOCKET_OPEN, type RelaySocket, type UpgradeInfo, type DialSocket } from './transport.js'
