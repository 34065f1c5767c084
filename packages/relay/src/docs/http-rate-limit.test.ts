import { afterEach, describe, expect, it } from 'vitest'
import { systemClock, type Clock } from '@meridian/base'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay } from '../server.js'
import { HttpRateLimiter, MAX_TRACKED_BUCKETS } from './http-rate-limit.js'

const ADMIN = 'admin-token-for-http-rate-limits'

/** The system clock's timers with a `now` the test moves by hand. */
function steppedClock(): Clock & { advance(ms: number): void } {
  let nowMs = systemClock.now()
  return {
    now: () => nowMs,
    setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
    clearTimeout: (t) => systemClock.clearTimeout(t),
    setInterval: (fn, ms) => systemClock.setInterval(fn, ms),
    clearInterval: (t) => systemClock.clearInterval(t),
    advance: (ms) => {
      nowMs += ms
    }
  }
}

describe('HttpRateLimiter', () => {
  it('takes from the address and the token bucket only when both have a token, and forgets refilled buckets', () => {
    const clock = steppedClock()
    const limiter = new HttpRateLimiter({ requestsPerSecond: 2, burstRequests: 2 }, clock)
    expect(limiter.take('a', 't')).toEqual({ kind: 'ok' })
    expect(limiter.take('a', 't')).toEqual({ kind: 'ok' })
    expect(limiter.take('a', null)).toEqual({ kind: 'limited', retryAfterMs: 500, by: 'address' })
    // The token is spent too: from another address it is refused, and that address's bucket is left full.
    expect(limiter.take('b', 't')).toEqual({ kind: 'limited', retryAfterMs: 500, by: 'token' })
    expect(limiter.take('b', null)).toEqual({ kind: 'ok' })
    expect(limiter.take('b', null)).toEqual({ kind: 'ok' })
    clock.advance(500)
    expect(limiter.take('a', 't')).toEqual({ kind: 'ok' })

    for (let i = 0; limiter.tracked < MAX_TRACKED_BUCKETS; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`, null)
    clock.advance(1_000)
    limiter.take('one-more', null)
    expect(limiter.tracked).toBe(1)
  })

  it('is off with requestsPerSecond 0', () => {
    const limiter = new HttpRateLimiter({ requestsPerSecond: 0, burstRequests: 1 }, systemClock)
    for (let i = 0; i < 100; i++) expect(limiter.take('a', 't')).toEqual({ kind: 'ok' })
    expect(limiter.tracked).toBe(0)
  })
})

describe('request rate of /v1/docs and /v1/changes', () => {
  const relays: Relay[] = []
  afterEach(async () => {
    for (const r of relays.splice(0)) await r.close()
  })

  it('answers 429 ERR_RATE_LIMITED with Retry-After per address and per token, before authentication; other routes are not counted', async () => {
    const clock = steppedClock()
    const relay = await buildRelay({ storage: new MemoryStorageAdapter(), adminToken: ADMIN, clock, httpRateLimit: { requestsPerSecond: 1, burstRequests: 2 } })
    relays.push(relay)
    const admin = { authorization: `Bearer ${ADMIN}` }
    const get = (url: string, remoteAddress: string, headers: Record<string, string> = {}) => relay.app.inject({ url, remoteAddress, headers })

    expect((await get('/v1/docs', '10.0.0.1', admin)).statusCode).toBe(200)
    expect((await get('/v1/docs/a/changes', '10.0.0.1', admin)).statusCode).toBe(200)
    const limited = await get('/v1/docs', '10.0.0.1', admin)
    expect(limited.statusCode).toBe(429)
    expect(limited.headers['retry-after']).toBe('1')
    expect(limited.json()).toMatchObject({ error: { code: 'ERR_RATE_LIMITED' } })
    // The operator endpoints are not counted.
    expect((await get('/v1/status', '10.0.0.1', admin)).statusCode).toBe(200)

    // The same token from another address: its bucket is spent.
    expect((await get('/v1/docs', '10.0.0.2', admin)).statusCode).toBe(429)
    // Without a token that address is still within its rate (refused by authentication, not by the limit).
    expect((await get('/v1/docs', '10.0.0.2')).statusCode).toBe(401)

    // Guessing tokens is limited too: the limit comes before the admin check of /v1/changes.
    const guesses = [await get('/v1/changes', '10.0.0.3', { authorization: 'Bearer guess-1' }), await get('/v1/changes', '10.0.0.3', { authorization: 'Bearer guess-2' }), await get('/v1/changes', '10.0.0.3', { authorization: 'Bearer guess-3' })]
    expect(guesses.map((r) => r.statusCode)).toEqual([401, 401, 429])
    expect(guesses[2]?.json()).toMatchObject({ error: { code: 'ERR_RATE_LIMITED' } })

    clock.advance(1_000)
    expect((await get('/v1/docs', '10.0.0.1', admin)).statusCode).toBe(200)
  })
})
