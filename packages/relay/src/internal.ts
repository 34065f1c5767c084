/**
 * The relay's parts, for Meridian's own tests, the testing kit and the
 * benchmarks. No stability promise: use `@meridian/relay` in applications.
 * @internal
 */
export { Room, type RoomPeer, type RoomChange, type RoomChangeListener } from './room.js'
export { AwarenessSweeper, type AwarenessSource, type AwarenessChange } from './room-presence.js'
export { RoomManager } from './rooms.js'
export { BUS_SOURCE, BUS_CATCH_UP_SOURCE, BUS_MERGE_SOURCE, isStoredHere, isPublishedOnBus, broadcastExcept, type ChangeSource } from './change-source.js'
export { Mesh, MESH_PATH, type MeshStatus, type RegionStatus } from './mesh/mesh.js'
export { MeshLink } from './mesh/link.js'
export { MESH_HEADERS, meshHelloProof, meshNonce, verifyMeshHello, type MeshRole } from './mesh/link-auth.js'
export { MESH_PRE_AUTH_MAX_BYTES, type HandshakeFailure } from './mesh/link.js'
export { isValidRegionName, REGION_NAME_PATTERN } from './mesh/membership.js'
export { DigestIndex, docDigest } from './mesh/digest-index.js'
export type { RegionBacklog } from './mesh/replication.js'
export { Authenticator, RevocationList } from './auth.js'
export { compileGlob, matchGlob, globMatches } from './glob.js'
export { RelayMetrics, type MessageLabel, type RejectReason, type RefuseReason, type CloseReason } from './metrics.js'
export { StatusRegistry } from './status.js'
export { TokenBucket, ConnectionLimiter, DocSizeGuard } from './limits.js'
export { attachBus } from './bus-bridge.js'
export { RelayGuarantees, type GuaranteedConnection } from './guarantees.js'
export { DocumentModes } from './doc-modes.js'
