export type {
  ClientAppendEntry,
  ClientAppendResult,
  ClientStore,
  ClientStoredDocument,
  ClientStoredUpdate,
  ClientStoreErrorCode
} from './types.js'
export { ClientStoreError, clientStoreErrorCode, isClientStoreError, toClientStoreError } from './errors.js'
export { MemoryClientStore } from './memory-store.js'
export {
  DEFAULT_IDB_CLIENT_STORE_OPTIONS,
  openIdbClientStore,
  type IdbClientStore,
  type IdbClientStoreOptions
} from './idb-store.js'
