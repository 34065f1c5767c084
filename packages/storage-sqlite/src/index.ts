export { DEFAULT_SQLITE_OPTIONS, SqliteStorageAdapter, openSqliteStorage } from './sqlite-adapter.js'
export type { SqliteStorageOptions } from './sqlite-adapter.js'
export { SCHEMA_VERSION } from './schema.js'
