// The default entry: the provider. Where documents are stored, the policy engine, the
// delete-set digest exchange, presence, cross-tab sharing and holding refused writes are their
// own entries (`@meridian/client/store`, `/policy`, `/digest`, `/presence`, `/cross-tab`, `/refused-writes`).
export { MeridianProvider, type MeridianProviderEvents, type ConnectionStatus, type PersistenceState } from './provider.js'
export { CROSS_TAB_ORIGIN, type CrossTabLink, type CrossTabSharing } from './cross-tab-engine.js'
export { DEFAULT_PROVIDER_OPTIONS, type MeridianProviderOptions, type WebSocketConstructor, type WebSocketLike } from './options.js'
export { MeridianError, isMeridianError, type MeridianErrorCode } from './errors.js'
export { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js'
export type { DurabilityLevel } from './ledger.js'
export type { Guarantees, GuaranteesOptions, PolicyEngine } from './guarantees.js'
export type { DeleteDigest } from './delete-digest.js'
export type { Presence } from './presence-engine.js'
export type { RelayInfo } from './link-events.js'
export { DEFAULT_MAX_FRAME_BYTES, type RefusedWrite, type RefusalReason } from './write-gate.js'
export type {
  ClientAppendEntry,
  ClientAppendResult,
  ClientStore,
  ClientStoreErrorCode,
  ClientStoreFactory,
  ClientStoreHooks,
  ClientStoredDocument,
  ClientStoredUpdate
} from './store/types.js'
