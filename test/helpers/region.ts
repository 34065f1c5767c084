/**
 * A region of real relay processes on one PostgreSQL schema and one Redis key
 * prefix (both fresh per region), with Redis reached through a TCP proxy so a
 * test can cut the relays off Redis without touching the service.
 */
import { openPostgresStorage, type PostgresStorageAdapter } from '@meridian/storage-postgres'
import { startRelayProcess, type RelayProcess } from './relay-process.js'
import { deleteKeys, dropSchema, freshKeyPrefix, freshSchemaName, withSchema } from './services.js'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js'

export interface RegionRelay {
  readonly nodeId: string
  readonly process: RelayProcess
  readonly url: string
}

export interface Region {
  readonly name: string
  readonly relays: RegionRelay[]
  /** `--storage` value of the region (PostgreSQL URL with ?schema=). */
  readonly storageUrl: string
  readonly schema: string
  /** Redis key prefix of the region's bus. */
  readonly keyPrefix: string
  /** Between the relays and Redis: `redisProxy.setOnline(false)` cuts them all off. */
  readonly redisProxy: TcpProxy
  /** An adapter on the region's schema, for checking what is stored. */
  storage(): Promise<PostgresStorageAdapter>
  /** Simulates a Redis restart (without persistence): every connection dropped, the region's streams gone. */
  restartRedis(downMs: number): Promise<void>
  /** Kills everything and drops the schema and keys. */
  cleanup(): Promise<void>
}

export async function startRegion(options: {
  postgresUrl: string
  redisUrl: string
  name?: string
  relays?: number
  extraArgs?: (index: number) => string[]
}): Promise<Region> {
  const name = options.name ?? 'eu'
  const schema = freshSchemaName()
  const keyPrefix = freshKeyPrefix()
  const storageUrl = withSchema(options.postgresUrl, schema)
  const redis = new URL(options.redisUrl)
  const redisProxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) })
  const busUrl = `redis://127.0.0.1:${redisProxy.port}${redis.pathname}?prefix=${encodeURIComponent(keyPrefix)}`
  const started = await Promise.allSettled(
    Array.from({ length: options.relays ?? 3 }, async (_, i) => {
      const nodeId = `${name}-${i + 1}`
      const process = await startRelayProcess([
        '--region', name,
        '--node-id', nodeId,
        '--storage', storageUrl,
        '--bus', busUrl,
        ...(options.extraArgs?.(i) ?? [])
      ])
      return { nodeId, process, url: process.url }
    })
  )
  const relays = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  const adapters: PostgresStorageAdapter[] = []
  const cleanup = async (): Promise<void> => {
    await Promise.all(relays.map((r) => (r.process.child.exitCode === null && r.process.child.signalCode === null ? r.process.kill('SIGKILL') : undefined)))
    for (const adapter of adapters.splice(0)) await adapter.close()
    await redisProxy.close()
    await dropSchema(options.postgresUrl, schema).catch(() => undefined)
    await deleteKeys(options.redisUrl, keyPrefix).catch(() => undefined)
  }
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed !== undefined) {
    await cleanup()
    throw failed.reason
  }
  return {
    name,
    relays,
    storageUrl,
    schema,
    keyPrefix,
    redisProxy,
    async storage() {
      const adapter = await openPostgresStorage({ connectionString: storageUrl, poolSize: 2 })
      adapters.push(adapter)
      return adapter
    },
    async restartRedis(downMs: number) {
      redisProxy.setOnline(false)
      await deleteKeys(options.redisUrl, keyPrefix)
      await new Promise((r) => setTimeout(r, downMs))
      redisProxy.setOnline(true)
    },
    cleanup
  }
}

export { relayView } from './raw-client.js'
