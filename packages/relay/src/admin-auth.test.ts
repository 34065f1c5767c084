import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { ADMIN, SECRET, relayPool } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

/** A raw HTTP request: the path goes on the wire exactly as given (no URL normalisation). */
function raw(base: string, method: string, path: string, opts: { body?: string; token?: string } = {}): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base.replace(/^ws/, 'http'))
  return new Promise((resolve, reject) => {
    const req = request({
      host: hostname,
      port,
      method,
      path,
      headers: {
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {})
      }
    }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

/** Spellings of one path that the router decodes to the same route. */
function variants(path: string): string[] {
  const rest = path.slice('/v1'.length)
  return [path, `/%76%31${rest}`, `/v%31${rest}`, `/%761${rest}`, `/%76%31${rest.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)}`]
}

const ROUTES: { method: string; path: string; body?: string }[] = [
  { method: 'GET', path: '/v1/status' },
  { method: 'HEAD', path: '/v1/status' },
  { method: 'GET', path: '/v1/cluster' },
  { method: 'POST', path: '/v1/revocations', body: JSON.stringify({ sub: 'alice' }) }
]

describe('admin API authorization (security #15, finding 1)', () => {
  it('refuses every admin route, in every encoding, without the admin token; serves it with one', async () => {
    const { url, relay } = await pool.start({
      auth: { mode: 'jwt', secret: SECRET },
      adminToken: ADMIN,
      mesh: { clusterSecret: 'cluster-secret-0123456789' }
    })
    for (const route of ROUTES) {
      for (const path of variants(route.path)) {
        const res = await raw(url, route.method, path, route.body !== undefined ? { body: route.body } : {})
        expect({ route: `${route.method} ${path}`, status: res.status }).toEqual({ route: `${route.method} ${path}`, status: 401 })
        const wrong = await raw(url, route.method, path, { ...(route.body !== undefined ? { body: route.body } : {}), token: 'not-the-admin-token' })
        expect(wrong.status).toBe(401)
      }
    }
    // Nothing was revoked by the refused attempts.
    const status = await raw(url, 'GET', '/v1/status', { token: ADMIN })
    expect(status.status).toBe(200)
    expect((JSON.parse(status.body) as { auth: { revocations: number } }).auth.revocations).toBe(0)
    // The encoded spellings reach the same routes once authorized.
    expect((await raw(url, 'GET', '/%76%31/status', { token: ADMIN })).status).toBe(200)
    expect((await raw(url, 'GET', '/v%31/cluster', { token: ADMIN })).status).toBe(200)
    expect((await raw(url, 'POST', '/%761/revocations', { token: ADMIN, body: JSON.stringify({ sub: 'bob' }) })).status).toBe(200)
    expect(relay.metrics).toBeDefined()
  })

  it('without an admin token configured but auth on, /v1 is closed in every encoding', async () => {
    const { url } = await pool.start({ auth: { mode: 'jwt', secret: SECRET } })
    for (const route of ROUTES.filter((r) => r.path !== '/v1/cluster')) {
      for (const path of variants(route.path)) {
        expect((await raw(url, route.method, path, route.body !== undefined ? { body: route.body } : {})).status).toBe(401)
      }
    }
  })

  it('leaves the open endpoints open', async () => {
    const { url } = await pool.start({ auth: { mode: 'jwt', secret: SECRET }, adminToken: ADMIN })
    expect((await raw(url, 'GET', '/metrics')).status).toBe(200)
    expect((await raw(url, 'GET', '/healthz')).status).toBe(200)
  })
})
