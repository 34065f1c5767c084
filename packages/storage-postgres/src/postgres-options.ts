/**
 * The Postgres adapter's options: defaults, validation (ERR_STORAGE_INVALID_ARGUMENT),
 * Meridian's own `schema` query parameter, and a connection string fit for logs.
 */
import { StorageError } from '@meridian/storage'
import { SCHEMA_NAME_PATTERN } from './schema.js'

export interface PostgresStorageOptions {
  /**
   * `postgres://user:password@host:5432/database?...`. A `schema` query
   * parameter selects the schema (unless `schema` is given); every other
   * parameter is passed to `pg` unchanged (sslmode, application_name...).
   */
  connectionString: string
  /** Schema holding Meridian's tables; created on start. Default: `?schema=` from the URL, else 'meridian'. */
  schema?: string
  /** Most connections this adapter opens. Default 10. */
  poolSize?: number
  /** Give up opening a connection after this long (ERR_STORAGE_IO). Default 10000. */
  connectTimeoutMs?: number
  /** Close a pooled connection after it has been idle this long. Default 30000. */
  idleTimeoutMs?: number
  /** Server-side statement timeout; 0 disables it. Default 30000. */
  statementTimeoutMs?: number
  /** Shown in pg_stat_activity. Default 'meridian-relay'. */
  applicationName?: string
  /**
   * Errors of idle pooled connections (the server restarted, a network cut).
   * They are not fatal — the pool opens new connections — but must be handled
   * somewhere or Node would crash on an 'error' event; default: ignored.
   */
  onError?: (error: Error) => void
}

export type ResolvedOptions = Required<Omit<PostgresStorageOptions, 'onError'>> & Pick<PostgresStorageOptions, 'onError'>

export const DEFAULT_POSTGRES_OPTIONS = Object.freeze({
  schema: 'meridian',
  poolSize: 10,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  statementTimeoutMs: 30_000,
  applicationName: 'meridian-relay'
})

/**
 * Splits Meridian's own `schema` query parameter off a connection string.
 * Returns the string unchanged (and no schema) when it is not a URL.
 */
export function splitSchemaParam(connectionString: string): { connectionString: string; schema: string | undefined } {
  let url: URL
  try {
    url = new URL(connectionString)
  } catch {
    return { connectionString, schema: undefined }
  }
  const schema = url.searchParams.get('schema') ?? undefined
  if (schema === undefined) return { connectionString, schema }
  url.searchParams.delete('schema')
  return { connectionString: url.toString(), schema }
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for logs. */
export function redactConnectionString(connectionString: string): string {
  try {
    const url = new URL(connectionString)
    if (url.password !== '') url.password = '***'
    return url.toString()
  } catch {
    return '(unparsable connection string)'
  }
}

export function resolveOptions(options: PostgresStorageOptions): ResolvedOptions {
  const invalid = (message: string) => new StorageError('ERR_STORAGE_INVALID_ARGUMENT', message)
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object')
  if (typeof options.connectionString !== 'string' || options.connectionString === '') {
    throw invalid('connectionString must be a non-empty string')
  }
  const split = splitSchemaParam(options.connectionString)
  const merged = {
    ...DEFAULT_POSTGRES_OPTIONS,
    ...stripUndefined(options),
    connectionString: split.connectionString,
    schema: options.schema ?? split.schema ?? DEFAULT_POSTGRES_OPTIONS.schema
  }
  if (typeof merged.schema !== 'string' || !SCHEMA_NAME_PATTERN.test(merged.schema)) {
    throw invalid(`schema must match ${String(SCHEMA_NAME_PATTERN)}, got ${JSON.stringify(merged.schema)}`)
  }
  const int = (name: string, value: unknown, min: number): void => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > 0x7fffffff) {
      throw invalid(`${name} must be an integer between ${min} and 2147483647`)
    }
  }
  int('poolSize', merged.poolSize, 1)
  int('connectTimeoutMs', merged.connectTimeoutMs, 0)
  int('idleTimeoutMs', merged.idleTimeoutMs, 0)
  int('statementTimeoutMs', merged.statementTimeoutMs, 0)
  if (typeof merged.applicationName !== 'string') throw invalid('applicationName must be a string')
  if (merged.onError !== undefined && typeof merged.onError !== 'function') throw invalid('onError must be a function')
  return merged
}


function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
