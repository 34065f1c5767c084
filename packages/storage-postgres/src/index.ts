export {
  DEFAULT_POSTGRES_OPTIONS,
  PostgresStorageAdapter,
  openPostgresStorage,
  redactConnectionString,
  splitSchemaParam
} from './postgres-adapter.js'
export type { PostgresStorageOptions } from './postgres-adapter.js'
export { SCHEMA_VERSION } from './schema.js'
