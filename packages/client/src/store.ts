/**
 * `@meridian/client/store`: where a document lives on the device, passed as the
 * provider's `store` option (required: an offline-first app says where its data
 * lives). `indexedDbStore()` for browsers (shared by the tabs of an origin;
 * in Node, fake-indexeddb), `new MemoryClientStore()` for tests, servers and
 * pages that must not keep data. Its own entry, so the default bundle carries
 * neither; the contract (`ClientStore`) is in the default entry for custom stores.
 */
export {
  DEFAULT_IDB_CLIENT_STORE_OPTIONS,
  indexedDbStore,
  openIdbClientStore,
  type IdbClientStore,
  type IdbClientStoreOptions
} from './store/idb-store.js'
export { MemoryClientStore } from './store/memory-store.js'
export { ClientStoreError, clientStoreErrorCode, isClientStoreError, toClientStoreError } from './store/errors.js'
export type * from './store/types.js'
