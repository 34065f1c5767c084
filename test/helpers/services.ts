/**
 * The machine services some suites need (PostgreSQL, Redis): where they are,
 * whether they answer, and the skip rule. On a machine without them the suites
 * skip with a printed reason; in CI (`CI=true`) a missing service is a failure.
 *
 * PostgreSQL: `MERIDIAN_TEST_POSTGRES_URL`, else database `test` on
 * 127.0.0.1:5432 (trust auth) as `$PGUSER`, `postgres` or `root`, whichever answers.
 * Redis: `MERIDIAN_TEST_REDIS_URL`, else `redis://127.0.0.1:6379`.
 * `provisionRegion` gives a region of relays its own schema, key prefix and Redis proxy.
 */
import { randomBytes } from 'node:crypto'
import { userInfo } from 'node:os'
import pg from 'pg'
import { Redis } from 'ioredis'
import { openPostgresStorage, type PostgresStorageAdapter } from '@meridian/storage-postgres'
import { startTcpProxy, type TcpProxy } from '@meridian/testing'

const PROBE_TIMEOUT_MS = 2_000

export type ServiceCheck = { ok: true; url: string } | { ok: false; reason: string }

let postgresCheck: Promise<ServiceCheck> | undefined
let redisCheck: Promise<ServiceCheck> | undefined

export function checkPostgres(): Promise<ServiceCheck> {
  postgresCheck ??= (async () => {
    const fromEnv = process.env.MERIDIAN_TEST_POSTGRES_URL
    const users = [process.env.PGUSER, 'postgres', 'root', safeUsername()].filter((u): u is string => typeof u === 'string' && u !== '')
    const candidates = fromEnv !== undefined && fromEnv !== '' ? [fromEnv] : [...new Set(users)].map((u) => `postgres://${encodeURIComponent(u)}@127.0.0.1:5432/test`)
    const failures: string[] = []
    for (const url of candidates) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS })
      try {
        await client.connect()
        await client.query('SELECT 1')
        return { ok: true as const, url }
      } catch (err) {
        failures.push(`${url}: ${err instanceof Error ? err.message : String(err)}`)
      } finally {
        await client.end().catch(() => undefined)
      }
    }
    return { ok: false as const, reason: `PostgreSQL does not answer (${failures.join('; ')})` }
  })()
  return postgresCheck
}

export function checkRedis(): Promise<ServiceCheck> {
  redisCheck ??= (async () => {
    const url = process.env.MERIDIAN_TEST_REDIS_URL || 'redis://127.0.0.1:6379'
    const client = new Redis(url, { lazyConnect: true, connectTimeout: PROBE_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on('error', () => undefined)
    try {
      await client.connect()
      const pong = await client.ping()
      return pong === 'PONG' ? { ok: true as const, url } : { ok: false as const, reason: `Redis at ${url} answered ${pong}` }
    } catch (err) {
      return { ok: false as const, reason: `Redis does not answer at ${url} (${err instanceof Error ? err.message : String(err)})` }
    } finally {
      client.disconnect()
    }
  })()
  return redisCheck
}

/**
 * The skip rule. Returns the service URLs when every check passed; otherwise
 * prints why the suite skips and returns null — or, in CI, throws so the suite
 * fails instead of silently skipping.
 */
export async function requireServices(suite: string, checks: Record<string, Promise<ServiceCheck>>): Promise<Record<string, string> | null> {
  const urls: Record<string, string> = {}
  const missing: string[] = []
  for (const [name, check] of Object.entries(checks)) {
    const result = await check
    if (result.ok) urls[name] = result.url
    else missing.push(result.reason)
  }
  if (missing.length === 0) return urls
  const reason = `${suite}: ${missing.join('; ')}`
  if (process.env.CI === 'true') throw new Error(`${reason} — required in CI (CI=true); .ci/run starts PostgreSQL and Redis`)
  console.warn(`skipping ${reason}. Start the service(s), or set MERIDIAN_TEST_POSTGRES_URL / MERIDIAN_TEST_REDIS_URL.`)
  return null
}

/** A schema name no other test run uses (drop it in cleanup). */
export function freshSchemaName(): string {
  return `meridian_test_${randomBytes(6).toString('hex')}`
}

/** A Redis key prefix no other test run uses. */
export function freshKeyPrefix(): string {
  return `meridian-test:${randomBytes(6).toString('hex')}:`
}

/** `url` with `?schema=<schema>` added (what the relay CLI's --storage takes). */
export function withSchema(url: string, schema: string): string {
  const parsed = new URL(url)
  parsed.searchParams.set('schema', schema)
  return parsed.toString()
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS })
  try {
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Deletes every key under `prefix` (a test run's streams). */
export async function deleteKeys(url: string, prefix: string): Promise<number> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 })
  client.on('error', () => undefined)
  try {
    let deleted = 0
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) deleted += await client.del(...keys)
    } while (cursor !== '0')
    return deleted
  } finally {
    client.disconnect()
  }
}

function safeUsername(): string | undefined {
  try {
    return userInfo().username
  } catch {
    return undefined
  }
}

/**
 * What one region of relays on PostgreSQL + Redis needs: a fresh schema and
 * key prefix, and Redis reached through a TCP proxy so a test can cut the
 * relays off Redis without touching the service. Pass `relayArgs` to the
 * kit's process cluster for each relay of the region.
 */
export interface RegionServices {
  /** `--storage` value (PostgreSQL URL with ?schema=). */
  readonly storageUrl: string
  readonly schema: string
  /** Redis key prefix of the region's bus. */
  readonly keyPrefix: string
  /** Between the relays and Redis: `redisProxy.setOnline(false)` cuts them all off. */
  readonly redisProxy: TcpProxy
  /** `--storage … --bus …` for a relay of this region. */
  readonly relayArgs: readonly string[]
  /** An adapter on the region's schema, for checking what is stored (closed by cleanup). */
  storage(): Promise<PostgresStorageAdapter>
  /** Simulates a Redis restart (without persistence): every connection dropped, the region's streams gone. */
  restartRedis(downMs: number): Promise<void>
  /** Drops the schema and keys; call after the relays are gone. */
  cleanup(): Promise<void>
}

export async function provisionRegion(postgresUrl: string, redisUrl: string): Promise<RegionServices> {
  const schema = freshSchemaName()
  const keyPrefix = freshKeyPrefix()
  const storageUrl = withSchema(postgresUrl, schema)
  const redis = new URL(redisUrl)
  const redisProxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) })
  const busUrl = `redis://127.0.0.1:${redisProxy.port}${redis.pathname}?prefix=${encodeURIComponent(keyPrefix)}`
  const adapters: PostgresStorageAdapter[] = []
  return {
    storageUrl,
    schema,
    keyPrefix,
    redisProxy,
    relayArgs: ['--storage', storageUrl, '--bus', busUrl],
    async storage() {
      const adapter = await openPostgresStorage({ connectionString: storageUrl, poolSize: 2 })
      adapters.push(adapter)
      return adapter
    },
    async restartRedis(downMs: number) {
      redisProxy.setOnline(false)
      await deleteKeys(redisUrl, keyPrefix)
      await new Promise((r) => setTimeout(r, downMs))
      redisProxy.setOnline(true)
    },
    async cleanup() {
      for (const adapter of adapters.splice(0)) await adapter.close()
      await redisProxy.close()
      await dropSchema(postgresUrl, schema).catch(() => undefined)
      await deleteKeys(redisUrl, keyPrefix).catch(() => undefined)
    }
  }
}
