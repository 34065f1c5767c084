import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { pino } from 'pino'
import type { StorageAdapter } from '@meridian/storage'
import { createSystemClock, type Clock } from '@meridian/base'
import { RelayError } from './errors.js'
import type { RelayBus } from '@meridian/bus-redis'
import type { MeshOptions } from './mesh/options.js'
import type { BusBridgeOptions } from './bus-bridge-options.js'
import type { DocumentPolicy } from './doc-modes.js'
import type { ChangeFeedOptions, WebhookOptions } from './changes/webhook-options.js'
import { resolveAutoVersionOptions, resolveRetention, type AutoVersionOptions, type RetentionOptions } from '@meridian/history'
import { DEFAULT_HARDENING_OPTIONS, resolveHardeningOptions, type HardeningOptions, type ResolvedHardeningOptions } from './hardening-options.js'

/** Auth, origins and limits are documented in hardening-options.ts. */
export interface RelayOptions extends HardeningOptions {
  /** Durable document storage (SQLite in the CLI, memory in tests). Required. */
  storage: StorageAdapter
  /** Structured logger; silent by default (libraries do not pick where logs go). */
  logger?: Logger
  /** Time source for every timer and timestamp; default the system clock (timers unref'd). Tests pass a simulated one. */
  clock?: Clock
  /** Random numbers in [0, 1) for jitter; default Math.random. Tests pass a seeded one. */
  random?: () => number
  /** This relay's id in the mesh and in logs. Default: a random UUID. */
  nodeId?: string
  /** The region this relay belongs to. */
  region?: string
  /** Largest accepted WebSocket message, in bytes. */
  maxMessageBytes?: number
  /** How long a document with no connection stays in memory before it is flushed and evicted. */
  evictIdleAfterMs?: number
  /** Compact a document's stored updates into a snapshot after this many appends. */
  compactAfterUpdates?: number
  /** Join a multi-region mesh (see mesh/options.ts). Without it the relay stands alone. */
  mesh?: MeshOptions
  /**
   * The region's bus (e.g. `openRedisBus` of @meridian/bus-redis), for several
   * relays sharing the region's storage: the relay publishes the changes it
   * commits, applies the others', and catches up from storage (bus-bridge.ts).
   * It also tells the mesh that this region's relays need no pushes among
   * themselves. Like `storage`, the caller opens it and closes it after
   * `relay.close()`.
   */
  bus?: RelayBus
  /** Catch-up timing of the bus bridge. */
  busBridge?: BusBridgeOptions
  /** Documents with a home region; those whose writes need it are read-only where it is unreachable. */
  documentPolicies?: readonly DocumentPolicy[]
  /** Clients that agreed FEATURE_STATUS get a status report at least this often (a sync point for their staleness bound). */
  statusIntervalMs?: number
  /** A read-only document turns writable only after its home region stayed reachable this long. */
  readOnlyRecoveryHoldMs?: number
  /** Signed POSTs of every change to matching documents (changes/webhook-options.ts; README, "Webhooks"). */
  webhooks?: readonly WebhookOptions[]
  /** Change feed and webhook timing (poll interval, webhook lease). */
  changeFeed?: ChangeFeedOptions
  /** Version history (history/): automatic versions and retention. */
  history?: HistoryOptions
}

export interface HistoryOptions {
  /** When the relay takes automatic versions (decideAutoVersion of @meridian/history); false: never. Default DEFAULT_AUTO_VERSION_OPTIONS. */
  autoVersions?: Partial<AutoVersionOptions> | false
  /** What retention keeps (expiredVersions of @meridian/history). Default DEFAULT_RETENTION. */
  retention?: Partial<RetentionOptions>
  /** Retention runs this long after a client appended a version. Default 1 000 ms. */
  retentionDelayMs?: number
}

export interface ResolvedHistoryOptions {
  autoVersions: AutoVersionOptions | null
  retention: RetentionOptions
  retentionDelayMs: number
}

export interface ResolvedRelayOptions extends ResolvedHardeningOptions {
  storage: StorageAdapter
  logger: Logger
  clock: Clock
  random: () => number
  nodeId: string
  region: string
  maxMessageBytes: number
  evictIdleAfterMs: number
  compactAfterUpdates: number
  mesh: MeshOptions | undefined
  bus: RelayBus | undefined
  busBridge: BusBridgeOptions
  documentPolicies: readonly DocumentPolicy[]
  statusIntervalMs: number
  readOnlyRecoveryHoldMs: number
  webhooks: readonly WebhookOptions[]
  changeFeed: ChangeFeedOptions
  history: ResolvedHistoryOptions
}

const RELAY_CLOCK = createSystemClock({ unref: true })

export const DEFAULT_RELAY_OPTIONS = {
  region: 'default',
  maxMessageBytes: 16 * 1024 * 1024,
  evictIdleAfterMs: 30_000,
  compactAfterUpdates: 500,
  ...DEFAULT_HARDENING_OPTIONS
} as const

const positiveInt = (name: string, value: unknown, min: number): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new RelayError('ERR_RELAY_OPTIONS', `${name} must be an integer >= ${min}, got ${String(value)}`)
  }
  return value
}

const nonEmptyString = (name: string, value: unknown): string => {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new RelayError('ERR_RELAY_OPTIONS', `${name} must be a non-empty string of at most 256 characters`)
  }
  return value
}

export function resolveRelayOptions(options: RelayOptions): ResolvedRelayOptions {
  if (options === null || typeof options !== 'object') throw new RelayError('ERR_RELAY_OPTIONS', 'options must be an object')
  const storage = options.storage
  if (storage === null || typeof storage !== 'object' || typeof storage.load !== 'function' || typeof storage.append !== 'function') {
    throw new RelayError('ERR_RELAY_OPTIONS', 'storage must be a StorageAdapter')
  }
  return {
    storage,
    logger: options.logger ?? pino({ level: 'silent' }),
    clock: options.clock ?? RELAY_CLOCK,
    random: options.random ?? Math.random,
    nodeId: nonEmptyString('nodeId', options.nodeId ?? randomUUID()),
    region: nonEmptyString('region', options.region ?? DEFAULT_RELAY_OPTIONS.region),
    maxMessageBytes: positiveInt('maxMessageBytes', options.maxMessageBytes ?? DEFAULT_RELAY_OPTIONS.maxMessageBytes, 1024),
    evictIdleAfterMs: positiveInt('evictIdleAfterMs', options.evictIdleAfterMs ?? DEFAULT_RELAY_OPTIONS.evictIdleAfterMs, 0),
    compactAfterUpdates: positiveInt('compactAfterUpdates', options.compactAfterUpdates ?? DEFAULT_RELAY_OPTIONS.compactAfterUpdates, 1),
    mesh: options.mesh,
    bus: options.bus,
    busBridge: options.busBridge ?? {},
    documentPolicies: options.documentPolicies ?? [],
    statusIntervalMs: positiveInt('statusIntervalMs', options.statusIntervalMs ?? 1_000, 10),
    readOnlyRecoveryHoldMs: positiveInt('readOnlyRecoveryHoldMs', options.readOnlyRecoveryHoldMs ?? 2_000, 0),
    webhooks: options.webhooks ?? [],
    changeFeed: options.changeFeed ?? {},
    history: resolveHistoryOptions(options.history),
    ...resolveHardeningOptions(options, positiveInt('maxMessageBytes', options.maxMessageBytes ?? DEFAULT_RELAY_OPTIONS.maxMessageBytes, 1024))
  }
}

function resolveHistoryOptions(options: HistoryOptions | undefined): ResolvedHistoryOptions {
  try {
    return {
      autoVersions: options?.autoVersions === false ? null : resolveAutoVersionOptions(options?.autoVersions),
      retention: resolveRetention(options?.retention),
      retentionDelayMs: positiveInt('history.retentionDelayMs', options?.retentionDelayMs ?? 1_000, 0)
    }
  } catch (cause) {
    throw new RelayError('ERR_RELAY_OPTIONS', `history: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}
