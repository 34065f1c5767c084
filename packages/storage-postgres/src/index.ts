export { PostgresStorageAdapter, openPostgresStorage } from './postgres-adapter.js'
export { DEFAULT_POSTGRES_OPTIONS, redactConnectionString, splitSchemaParam } from './postgres-options.js'
export type { PostgresStorageOptions } from './postgres-options.js'
export { SCHEMA_VERSION } from './schema.js'
