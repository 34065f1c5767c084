export { useOpenDocument, MeridianDocument, DocumentHandleProvider, useDocument, documentKey, type OpenDocumentOptions, type DocumentHandle, type MeridianDocumentProps } from './open-document.js'
export {
  useDocumentSelector,
  useDocumentState,
  useConnection,
  usePolicy,
  useCan,
  useDurability,
  usePendingCount,
  usePresence,
  useUnloadGuard,
  type ConnectionState
} from './hooks.js'
export {
  DocumentState,
  CLOSED_SNAPSHOT,
  EMPTY_PRESENCE,
  DEFAULT_DOCUMENT_STATE_OPTIONS,
  type DocumentSnapshot,
  type DurabilitySnapshot,
  type PresenceSnapshot,
  type PresencePeer,
  type DocumentStateOptions
} from './document-state.js'
export { ExternalStore } from './external-store.js'
export { describeDurability, durabilityAtLeast, durabilityRank, type Durability } from './durability-labels.js'
