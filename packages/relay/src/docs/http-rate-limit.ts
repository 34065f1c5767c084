/**
 * Request rate limit of the document API (`/v1/docs`, `/v1/docs/**`) and the
 * relay-wide change feed (`/v1/changes`): token buckets on the relay clock,
 * one per client address and one per bearer token, and a request takes one
 * token from each (both must have it). A long-poll or an event stream is one
 * request however long it stays open. Over the limit: 429 `ERR_RATE_LIMITED`
 * with `Retry-After`, checked before authentication (so guessing tokens is
 * limited too).
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, onRequestHookHandler } from 'fastify'
import type { Clock } from '@meridian/base'
import type { HttpRateLimitOptions } from '../hardening-options.js'
import { TokenBucket } from '../limits.js'
import { errorBody } from './http-errors.js'
import { isDocApiRoute } from './http-auth.js'

/** Buckets kept before idle ones (full again: the same as new) are forgotten. */
export const MAX_TRACKED_BUCKETS = 10_000

/** The routes this limit covers. */
export const isRateLimitedRoute = (pattern: string): boolean => isDocApiRoute(pattern) || pattern === '/v1/changes'

export type HttpRateVerdict = { kind: 'ok' } | { kind: 'limited'; retryAfterMs: number; by: 'address' | 'token' }

/** The buckets, by key (`ip:<address>`, `token:<sha-256 of the token>`). */
export class HttpRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>()

  constructor(private readonly options: HttpRateLimitOptions, private readonly clock: Clock) {}

  get unlimited(): boolean {
    return this.options.requestsPerSecond === 0
  }

  /** Number of buckets held (for tests: bounded by MAX_TRACKED_BUCKETS plus the ones in use). */
  get tracked(): number {
    return this.buckets.size
  }

  /** Accounts for one request from `address`, carrying `token` (null: none). */
  take(address: string, token: string | null): HttpRateVerdict {
    if (this.unlimited) return { kind: 'ok' }
    const nowMs = this.clock.now()
    const byAddress = this.bucket(`ip:${address}`, nowMs)
    const byToken = token === null ? null : this.bucket(`token:${createHash('sha256').update(token).digest('base64url')}`, nowMs)
    // Both must have a token before either is taken: a refusal costs nothing (no debt for hammering).
    const addressWait = byAddress.msUntilAvailable(1, nowMs)
    const tokenWait = byToken?.msUntilAvailable(1, nowMs) ?? 0
    if (addressWait > 0 || tokenWait > 0) {
      return { kind: 'limited', retryAfterMs: Math.max(addressWait, tokenWait), by: addressWait >= tokenWait ? 'address' : 'token' }
    }
    byAddress.take(1, nowMs)
    byToken?.take(1, nowMs)
    return { kind: 'ok' }
  }

  private bucket(key: string, nowMs: number): TokenBucket {
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_TRACKED_BUCKETS) this.forgetIdle(nowMs)
      bucket = new TokenBucket(this.options.requestsPerSecond, this.options.burstRequests, nowMs)
      this.buckets.set(key, bucket)
    }
    return bucket
  }

  /** Drops every bucket that has refilled (it holds nothing a new one would not). */
  private forgetIdle(nowMs: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.isFull(nowMs)) this.buckets.delete(key)
    }
  }
}

/** The bearer token of a request, or null. */
function bearerOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (header === undefined || !/^Bearer\s+/i.test(header)) return null
  const token = header.replace(/^Bearer\s+/i, '').trim()
  return token.length > 0 ? token : null
}

/**
 * Installs the limit on every covered route registered after this call, ahead
 * of the route's other `onRequest` hooks (the admin check included).
 */
export function limitDocRequests(app: FastifyInstance, options: HttpRateLimitOptions, clock: Clock): HttpRateLimiter {
  const limiter = new HttpRateLimiter(options, clock)
  if (limiter.unlimited) return limiter
  const check: onRequestHookHandler = async function rateLimited(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const verdict = limiter.take(request.ip, bearerOf(request))
    if (verdict.kind === 'ok') return
    const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))
    await reply
      .code(429)
      .header('retry-after', String(seconds))
      .send(errorBody('ERR_RATE_LIMITED', `too many requests from this ${verdict.by === 'address' ? 'address' : 'token'}; retry after ${seconds} s`))
  }
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!isRateLimitedRoute(route.url)) return
    const existing = route.onRequest
    route.onRequest = existing === undefined ? [check] : [check, ...(Array.isArray(existing) ? existing : [existing])]
  })
  return limiter
}
