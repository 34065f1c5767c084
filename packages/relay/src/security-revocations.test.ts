import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryStorageAdapter } from '@meridian/storage'
import { CLOSE_CODES, mintToken } from '@meridian/relay'
import { RawClient } from '@meridian/testing'
import { ADMIN, SECRET, metric, relayPool, scrape } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

const DOCS = [{ pattern: '*', access: 'write' as const }]

async function revokeOverHttp(url: string, body: object): Promise<number> {
  const res = await fetch(`${url.replace(/^ws/, 'http')}/v1/revocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  return res.status
}

async function outcome(url: string, token: string): Promise<number | 'open'> {
  const c = await RawClient.connect(url, 'doc', { query: { token } })
  const first = await Promise.race([c.next('sync-step1').then(() => 'open' as const), c.closed().then((e) => e.code)])
  if (first === 'open') await c.close()
  return first
}

function plainGet(url: string, path: string): Promise<number> {
  const { hostname, port } = new URL(url.replace(/^ws/, 'http'))
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET' }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('revocations and tokens (security #15, finding 9)', () => {
  it('a revocation survives a restart and reaches another relay on the same storage', async () => {
    const storage = new MemoryStorageAdapter()
    const opts = { storage, auth: { mode: 'jwt' as const, secret: SECRET }, adminToken: ADMIN }
    const first = await pool.start(opts)
    const alice = await mintToken({ secret: SECRET, docs: DOCS, ttlSeconds: 600, sub: 'alice', nowMs: Date.now() - 60_000 })
    const one = await mintToken({ secret: SECRET, docs: DOCS, ttlSeconds: 600, sub: 'bob', jti: 'bob-1', nowMs: Date.now() - 60_000 })
    expect(await outcome(first.url, alice)).toBe('open')
    expect(await revokeOverHttp(first.url, { sub: 'alice' })).toBe(200)
    expect(await revokeOverHttp(first.url, { jti: 'bob-1' })).toBe(200)
    expect(await outcome(first.url, alice)).toBe(CLOSE_CODES.TOKEN_REVOKED)
    await first.relay.close()

    const restarted = await pool.start(opts)
    expect(await outcome(restarted.url, alice)).toBe(CLOSE_CODES.TOKEN_REVOKED)
    expect(await outcome(restarted.url, one)).toBe(CLOSE_CODES.TOKEN_REVOKED)
    const sibling = await pool.start({ ...opts, nodeId: 'test-2' })
    expect(await outcome(sibling.url, alice)).toBe(CLOSE_CODES.TOKEN_REVOKED)
    // A token of alice's minted after the revocation (past the clock tolerance) works.
    const fresh = await mintToken({ secret: SECRET, docs: DOCS, ttlSeconds: 600, sub: 'alice', nowMs: Date.now() + 10_000 + 30_000 })
    expect(await outcome(restarted.url, fresh)).toBe(CLOSE_CODES.UNAUTHENTICATED) // dated ahead of the tolerance: not yet valid
    // No client can open the revocations document.
    const c = await RawClient.connect(restarted.url, '_meridian/revocations', { query: { token: fresh } })
    expect((await c.closed()).code).toBe(CLOSE_CODES.INVALID_MESSAGE)
  })

  it('a token dated in the future does not escape a revocation by subject', async () => {
    const { url } = await pool.start({ auth: { mode: 'jwt', secret: SECRET }, adminToken: ADMIN })
    const ahead = await mintToken({ secret: SECRET, docs: DOCS, ttlSeconds: 7_200, sub: 'carol', nowMs: Date.now() + 3_600_000 })
    const slightly = await mintToken({ secret: SECRET, docs: DOCS, ttlSeconds: 600, sub: 'carol', nowMs: Date.now() + 10_000 })
    expect(await outcome(url, ahead)).toBe(CLOSE_CODES.UNAUTHENTICATED)
    expect(await outcome(url, slightly)).toBe('open')
    expect(await revokeOverHttp(url, { sub: 'carol' })).toBe(200)
    expect(await outcome(url, slightly)).toBe(CLOSE_CODES.TOKEN_REVOKED)
  })

  it('plain GETs of document paths with ?token= are refused without verifying the token', async () => {
    const { url, relay } = await pool.start({ auth: { mode: 'jwt', secret: SECRET } })
    const token = await mintToken({ secret: SECRET, docs: DOCS, ttlSeconds: 600 })
    for (let i = 0; i < 20; i++) expect(await plainGet(url, `/doc-${i}?token=${token}`)).toBeGreaterThanOrEqual(400)
    expect(metric(await scrape(relay), 'meridian_relay_token_verifications_total')).toBe(0)
    expect(await outcome(url, token)).toBe('open')
    expect(metric(await scrape(relay), 'meridian_relay_token_verifications_total')).toBe(1)
  })
})
