export { HISTORY_ERROR_CODES, HistoryError, type HistoryErrorCode } from './errors.js'
export { HISTORY_DOC_PREFIX, historyDocName, isHistoryDocName, liveDocNameOf } from './names.js'
export { rootKind, rootKinds, sharedKind, typedRoot, type RootHints, type RootKind } from './root-kinds.js'
export {
  VERSIONS_ROOT, VERSION_KINDS, appendVersion, captureVersion, docFromState, invalidVersionIds, listVersions, openVersion, readVersion, stateHash, versionsMap,
  type CaptureOptions, type VersionKind, type VersionMeta, type VersionRecord
} from './version.js'
export { diffVersions, type ArrayDiffOp, type DiffOpKind, type MapChange, type RootDiff, type TextDiffOp, type VersionDiff, type XmlDiffOp } from './diff.js'
export { restoreVersion, type RestoreOptions } from './restore.js'
export { DEFAULT_AUTO_VERSION_OPTIONS, decideAutoVersion, resolveAutoVersionOptions, type ActivityState, type AutoVersionDecision, type AutoVersionOptions } from './auto-policy.js'
export { DEFAULT_RETENTION, expiredVersions, resolveRetention, type RetentionOptions } from './retention.js'
export { RESTORE_ORIGIN, VersionHistory, requireVersion, type HistoryProvider, type VersionHistoryOptions } from './client.js'
export { hash128 } from './hash.js'
