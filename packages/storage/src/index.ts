// The conformance suite is deliberately not re-exported: it imports vitest.
// Use the `@meridian/storage/conformance` subpath from adapter test files.
export type { StorageAdapter, StoredDocument, StoredUpdate } from './types.js'
export { StorageError, isStorageError, toStorageError } from './errors.js'
export type { StorageErrorCode } from './errors.js'
export { MAX_DOC_NAME_BYTES, assertBytes, assertDocName, assertSeq, assertUpdateList } from './validate.js'
export { MemoryStorageAdapter } from './memory-adapter.js'
export { applyStoredDocument, docFromStored } from './stored-doc.js'
export { MAX_STORED_MESH_MEMBERS, assertMeshMembers, unionMeshMembers, type StoredMeshMember } from './mesh-members.js'
export { MAX_CHANGES_LIMIT, assertCursorValues, assertKey, assertLimit, assertTtl, parsePositionCursor } from './change-feed.js'
export type { ChangeFeedStorage, ChangeLogEntry, ChangesPage } from './change-feed.js'
export { MAX_LIST_DOCUMENTS, assertDeletedAt, assertListDocumentsOptions, compareDocNames, type DocTombstone, type ListDocumentsOptions, type StoredDocumentInfo } from './doc-index.js'
