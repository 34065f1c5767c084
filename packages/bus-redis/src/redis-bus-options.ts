/** The Redis bus's options: their defaults, checks, and the URL helpers. */
import type { RedisOptions } from 'ioredis'
import { BusError } from './errors.js'
import { assertNodeId } from './validate.js'

export interface RedisBusOptions {
  /**
   * `redis://[user:password@]host:6379[/db]` (or `rediss://`). A `prefix` query
   * parameter sets `keyPrefix` (unless given); other parameters go to ioredis.
   */
  url: string
  /** This relay's id, carried by every entry it publishes. */
  nodeId: string
  /** Prefix of every key; relays of one region share it, other regions (on the same Redis) must not. Default 'meridian:'. */
  keyPrefix?: string
  /** Approximate cap on entries kept per document stream (`XADD MAXLEN ~`). Default 1000. */
  streamMaxLen?: number
  /** A document stream nobody publishes to expires after this long. Default 3600000 (1 h). */
  streamTtlMs?: number
  /** How long one blocking XREAD waits before it is reissued. Default 5000. */
  blockMs?: number
  /** Most entries read per stream per XREAD. Default 500. */
  readBatch?: number
  /** Longest pause between reconnection attempts (exponential backoff with jitter up to this). Default 2000. */
  reconnectMaxDelayMs?: number
  /** Give up a connection attempt after this long (then retry). Default 10000. */
  connectTimeoutMs?: number
  /** Name of the two connections in `CLIENT LIST` (suffixed ':cmd' and ':read'). Default `meridian-bus:<nodeId>`. */
  connectionName?: string
}

export const DEFAULT_REDIS_BUS_OPTIONS = Object.freeze({
  keyPrefix: 'meridian:',
  streamMaxLen: 1000,
  streamTtlMs: 3_600_000,
  blockMs: 5_000,
  readBatch: 500,
  reconnectMaxDelayMs: 2_000,
  connectTimeoutMs: 10_000
})

export type ResolvedOptions = Required<RedisBusOptions>

/** Splits Meridian's own `prefix` query parameter off a Redis URL. */
export function splitPrefixParam(url: string): { url: string; prefix: string | undefined } {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { url, prefix: undefined }
  }
  const prefix = parsed.searchParams.get('prefix') ?? undefined
  if (prefix === undefined) return { url, prefix }
  parsed.searchParams.delete('prefix')
  return { url: parsed.toString(), prefix }
}

/** `redis://:secret@host` → `redis://:***@host`, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparsable Redis URL)'
  }
}

export function resolveOptions(options: RedisBusOptions): ResolvedOptions {
  const invalid = (message: string) => new BusError('ERR_BUS_INVALID_ARGUMENT', message)
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object')
  if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) throw invalid('url must be a redis:// or rediss:// URL')
  assertNodeId(options.nodeId)
  const fromUrl = splitPrefixParam(options.url).prefix
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<RedisBusOptions>
  const merged: ResolvedOptions = {
    ...DEFAULT_REDIS_BUS_OPTIONS,
    connectionName: `meridian-bus:${options.nodeId.replace(/\s/g, '_')}`,
    ...defined,
    keyPrefix: options.keyPrefix ?? fromUrl ?? DEFAULT_REDIS_BUS_OPTIONS.keyPrefix
  } as ResolvedOptions
  if (typeof merged.keyPrefix !== 'string') throw invalid('keyPrefix must be a string')
  if (typeof merged.connectionName !== 'string' || /\s/.test(merged.connectionName) || merged.connectionName === '') {
    throw invalid('connectionName must be a non-empty string without spaces')
  }
  const int = (name: keyof ResolvedOptions, min: number): void => {
    const value = merged[name]
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > 0x7fffffff) {
      throw invalid(`${name} must be an integer between ${min} and 2147483647`)
    }
  }
  int('streamMaxLen', 1)
  int('streamTtlMs', 1_000)
  int('blockMs', 1)
  int('readBatch', 1)
  int('reconnectMaxDelayMs', 1)
  int('connectTimeoutMs', 1)
  return merged
}

/** The options of both connections. */
export function connectionOptions(resolved: ResolvedOptions): RedisOptions {
  return {
    connectTimeout: resolved.connectTimeoutMs,
    // Never queue or replay commands behind our back: a publish either goes out now or
    // fails (and is announced later); the read loop re-takes its positions on reconnect.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    disableClientInfo: true,
    protocol: 2,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), resolved.reconnectMaxDelayMs) + Math.floor(Math.random() * 100)
  }
}
