/**
 * The relay's security and resource options: authentication, origins, and
 * every limit. Part of RelayOptions (options.ts); kept here so that file stays
 * small. Every limit has a documented default (DEFAULT_HARDENING_OPTIONS, the
 * README's "Operating a relay") and a CLI flag.
 */
import { RelayError } from './errors.js'
import { resolveAuthOptions, type AuthOptions, type ResolvedAuth } from './auth.js'
import { compileGlob, type CompiledGlob } from './glob.js'
import { DEFAULT_UPDATE_LIMITS, type UpdateLimits } from './update-guard.js'
import { DEFAULT_AWARENESS_LIMITS, type AwarenessLimits } from './awareness-guard.js'
import { DEFAULT_MEMORY_BUDGET, type MemoryBudgetOptions } from './memory-budget.js'

export interface RateLimitOptions {
  /** Sustained messages per second per connection; 0: no message limit. */
  messagesPerSecond: number
  /** Bucket size: messages a connection may send at once. */
  burstMessages: number
  /** Sustained bytes per second per connection; 0: no byte limit. */
  bytesPerSecond: number
  /** Bucket size in bytes; at least `maxMessageBytes`, so one largest frame always fits. */
  burstBytes: number
}

/** Request rate of the document API and the change feed (docs/http-rate-limit.ts), per client address and per token. */
export interface HttpRateLimitOptions {
  /** Sustained requests per second per address (and per token); 0: no limit. A long-poll or stream counts once. */
  requestsPerSecond: number
  /** Bucket size: requests an address (or a token) may make at once. */
  burstRequests: number
}

export interface PreAuthOptions {
  /** Frames a connection without a token may send before its auth message is verified. */
  maxFrames: number
  /** Bytes it may send in that time. */
  maxBytes: number
  /** Time it has to send a valid auth message. */
  timeoutMs: number
}

export interface HardeningOptions {
  /** Who may connect. Default `{ mode: 'none' }` (the CLI makes the choice explicit). */
  auth?: AuthOptions
  /**
   * Browser origins allowed to open document sockets: exact (`https://app.example.com`)
   * or globs (`https://*.example.com`). Empty or absent: any origin. A request
   * without an `Origin` header (not a browser) is not affected.
   */
  allowedOrigins?: string[]
  /** Bearer token for `/v1/*` (status, revocations). Required there whenever auth is on. */
  adminToken?: string
  /** Open document connections on this relay, in total. */
  maxConnections?: number
  /** Open document connections per client IP address. */
  maxConnectionsPerIp?: number
  /** Documents open at once on one multiplexed connection (`/_meridian/mux`); more are refused (doc-closed 1013). */
  maxDocsPerConnection?: number
  /** A client write that would make a document's encoded state larger than this is refused. Below `maxMessageBytes`. */
  maxDocumentBytes?: number
  /** Bytes queued to a client that does not read before it is disconnected (1013); at least `maxMessageBytes`. */
  maxBufferedBytes?: number
  /** Deepest nesting of shared types an update may create (deeper: refused, 4400); also checked on load. */
  maxNestingDepth?: number
  /** Most items one update's delete set may split (more: refused, 4400): bounds the work and growth of one message. */
  maxDeleteSplits?: number
  /** Close a connection that sent nothing for this long (4008); 0 disables. */
  idleTimeoutMs?: number
  /** Estimated memory all loaded documents may take (idle ones are evicted first; then loads are refused, 1013). */
  maxDocumentMemoryBytes?: number
  /** Awareness client ids one connection may set (a read-only one: 1). */
  maxAwarenessIdsPerConnection?: number
  /** Largest awareness state one client id may have, in bytes. */
  maxAwarenessStateBytes?: number
  /** A TCP connection whose HTTP request headers are not complete after this long is destroyed (slowloris). */
  headerTimeoutMs?: number
  /** Ping every connection this often; one that has not answered the previous ping is terminated. 0 disables. */
  pingIntervalMs?: number
  /** Per-connection token buckets. */
  rateLimit?: Partial<RateLimitOptions>
  /** Per-address and per-token request buckets of `/v1/docs/**` and `/v1/changes` (429 ERR_RATE_LIMITED over them). */
  httpRateLimit?: Partial<HttpRateLimitOptions>
  /** Budget of a connection that has not authenticated yet (no `?token=`, auth message pending). */
  preAuth?: Partial<PreAuthOptions>
  /** Trust `X-Forwarded-For` from these proxies (fastify's `trustProxy`): true, or addresses/CIDRs. Default false. */
  trustProxy?: boolean | string | string[]
  /** Also export Node process metrics (CPU, memory, event loop lag) on /metrics. Default false (the CLI turns it on). */
  processMetrics?: boolean
}

export interface ResolvedHardeningOptions {
  auth: ResolvedAuth
  allowedOrigins: { pattern: string; glob: CompiledGlob }[]
  adminToken: string | undefined
  maxConnections: number
  maxConnectionsPerIp: number
  maxDocsPerConnection: number
  maxDocumentBytes: number
  maxBufferedBytes: number
  updateLimits: UpdateLimits
  idleTimeoutMs: number
  headerTimeoutMs: number
  awarenessLimits: AwarenessLimits
  memoryBudget: MemoryBudgetOptions
  pingIntervalMs: number
  rateLimit: RateLimitOptions
  httpRateLimit: HttpRateLimitOptions
  preAuth: PreAuthOptions
  trustProxy: boolean | string | string[]
  processMetrics: boolean
}

const MiB = 1024 * 1024

export const DEFAULT_HARDENING_OPTIONS = {
  maxConnections: 10_000,
  maxConnectionsPerIp: 256,
  maxDocsPerConnection: 1_000,
  /** Or `maxMessageBytes - 64` if that is smaller: a whole document must fit one sync-step2 frame. */
  maxDocumentBytes: 8 * MiB,
  /** Or `2 × maxMessageBytes` if that is larger. */
  maxBufferedBytes: 64 * MiB,
  maxNestingDepth: DEFAULT_UPDATE_LIMITS.maxNestingDepth,
  maxDeleteSplits: DEFAULT_UPDATE_LIMITS.maxDeleteSplits,
  idleTimeoutMs: 600_000,
  headerTimeoutMs: 10_000,
  maxDocumentMemoryBytes: DEFAULT_MEMORY_BUDGET.maxBytes,
  maxAwarenessIdsPerConnection: DEFAULT_AWARENESS_LIMITS.maxIdsPerConnection,
  maxAwarenessStateBytes: DEFAULT_AWARENESS_LIMITS.maxStateBytes,
  pingIntervalMs: 30_000,
  rateLimit: {
    messagesPerSecond: 200,
    burstMessages: 2_000,
    bytesPerSecond: 4 * MiB,
    /** Or `2 × maxMessageBytes` if that is larger. */
    burstBytes: 32 * MiB
  },
  httpRateLimit: {
    requestsPerSecond: 50,
    burstRequests: 200
  },
  preAuth: {
    maxFrames: 8,
    maxBytes: 64 * 1024,
    timeoutMs: 10_000
  }
} as const

/** Headroom for the sync-step2 header around a whole-document update. */
const FRAME_OVERHEAD = 64

const int = (name: string, value: unknown, min: number): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new RelayError('ERR_RELAY_OPTIONS', `${name} must be an integer >= ${min}, got ${String(value)}`)
  }
  return value
}

export function resolveHardeningOptions(options: HardeningOptions, maxMessageBytes: number): ResolvedHardeningOptions {
  const d = DEFAULT_HARDENING_OPTIONS
  const maxDocumentBytes = int('maxDocumentBytes', options.maxDocumentBytes ?? Math.min(d.maxDocumentBytes, maxMessageBytes - FRAME_OVERHEAD), 1)
  if (maxDocumentBytes > maxMessageBytes - FRAME_OVERHEAD) {
    throw new RelayError('ERR_RELAY_OPTIONS', `maxDocumentBytes must be at most maxMessageBytes - ${FRAME_OVERHEAD} (a whole document must fit one frame)`)
  }
  const maxBufferedBytes = int('maxBufferedBytes', options.maxBufferedBytes ?? Math.max(d.maxBufferedBytes, 2 * maxMessageBytes), maxMessageBytes)
  const rl = options.rateLimit ?? {}
  const rateLimit: RateLimitOptions = {
    messagesPerSecond: int('rateLimit.messagesPerSecond', rl.messagesPerSecond ?? d.rateLimit.messagesPerSecond, 0),
    burstMessages: int('rateLimit.burstMessages', rl.burstMessages ?? d.rateLimit.burstMessages, 1),
    bytesPerSecond: int('rateLimit.bytesPerSecond', rl.bytesPerSecond ?? d.rateLimit.bytesPerSecond, 0),
    burstBytes: int('rateLimit.burstBytes', rl.burstBytes ?? Math.max(d.rateLimit.burstBytes, 2 * maxMessageBytes), maxMessageBytes)
  }
  const hl = options.httpRateLimit ?? {}
  const httpRateLimit: HttpRateLimitOptions = {
    requestsPerSecond: int('httpRateLimit.requestsPerSecond', hl.requestsPerSecond ?? d.httpRateLimit.requestsPerSecond, 0),
    burstRequests: int('httpRateLimit.burstRequests', hl.burstRequests ?? d.httpRateLimit.burstRequests, 1)
  }
  const pa = options.preAuth ?? {}
  const preAuth: PreAuthOptions = {
    maxFrames: int('preAuth.maxFrames', pa.maxFrames ?? d.preAuth.maxFrames, 1),
    maxBytes: int('preAuth.maxBytes', pa.maxBytes ?? d.preAuth.maxBytes, 16),
    timeoutMs: int('preAuth.timeoutMs', pa.timeoutMs ?? d.preAuth.timeoutMs, 1)
  }
  const allowedOrigins = (options.allowedOrigins ?? []).map((pattern) => {
    try {
      return { pattern: pattern.toLowerCase(), glob: compileGlob(pattern.toLowerCase()) }
    } catch (cause) {
      throw new RelayError('ERR_RELAY_OPTIONS', `allowedOrigins: invalid pattern ${JSON.stringify(pattern)}`, { cause })
    }
  })
  const adminToken = options.adminToken
  if (adminToken !== undefined && (typeof adminToken !== 'string' || adminToken.length < 16)) {
    throw new RelayError('ERR_RELAY_OPTIONS', 'adminToken must be a string of at least 16 characters')
  }
  return {
    auth: resolveAuthOptions(options.auth),
    allowedOrigins,
    adminToken,
    maxConnections: int('maxConnections', options.maxConnections ?? d.maxConnections, 1),
    maxConnectionsPerIp: int('maxConnectionsPerIp', options.maxConnectionsPerIp ?? d.maxConnectionsPerIp, 1),
    maxDocsPerConnection: int('maxDocsPerConnection', options.maxDocsPerConnection ?? d.maxDocsPerConnection, 1),
    maxDocumentBytes,
    maxBufferedBytes,
    updateLimits: {
      maxNestingDepth: int('maxNestingDepth', options.maxNestingDepth ?? d.maxNestingDepth, 1),
      maxDeleteSplits: int('maxDeleteSplits', options.maxDeleteSplits ?? d.maxDeleteSplits, 1)
    },
    idleTimeoutMs: int('idleTimeoutMs', options.idleTimeoutMs ?? d.idleTimeoutMs, 0),
    headerTimeoutMs: int('headerTimeoutMs', options.headerTimeoutMs ?? d.headerTimeoutMs, 1),
    memoryBudget: {
      maxBytes: int('maxDocumentMemoryBytes', options.maxDocumentMemoryBytes ?? d.maxDocumentMemoryBytes, 1),
      bytesPerEncodedByte: DEFAULT_MEMORY_BUDGET.bytesPerEncodedByte
    },
    awarenessLimits: {
      maxIdsPerConnection: int('maxAwarenessIdsPerConnection', options.maxAwarenessIdsPerConnection ?? d.maxAwarenessIdsPerConnection, 1),
      maxStateBytes: int('maxAwarenessStateBytes', options.maxAwarenessStateBytes ?? d.maxAwarenessStateBytes, 2)
    },
    pingIntervalMs: int('pingIntervalMs', options.pingIntervalMs ?? d.pingIntervalMs, 0),
    rateLimit,
    httpRateLimit,
    preAuth,
    trustProxy: options.trustProxy ?? false,
    processMetrics: options.processMetrics ?? false
  }
}
