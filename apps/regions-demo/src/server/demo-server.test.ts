import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '@meridian/testing'
import type { ApiError, DemoState } from './api-types.js'
import { startRegionsDemo, type RegionsDemo } from './demo-server.js'

/** Raw HTTP, so the Host and Origin headers are exactly what the test says. */
function call(demo: RegionsDemo, method: string, path: string, options: { body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; json: unknown }> {
  const url = new URL(path, demo.url)
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: url.port, method, path: url.pathname, headers: { host: url.host, ...options.headers }, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: unknown = text
        try {
          json = JSON.parse(text)
        } catch {
          // not JSON: the static page
        }
        resolve({ status: res.statusCode ?? 0, json })
      })
    })
    req.on('timeout', () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
    req.end(options.body)
  })
}

const post = (demo: RegionsDemo, path: string, body: unknown) =>
  call(demo, 'POST', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })

describe('the regions demo server (three relay processes, the control API on loopback)', () => {
  let demo: RegionsDemo
  let pageDir: string

  beforeAll(async () => {
    pageDir = mkdtempSync(join(tmpdir(), 'meridian-regions-page-'))
    writeFileSync(join(pageDir, 'index.html'), '<!doctype html><title>regions</title>')
    demo = await startRegionsDemo({ pageDir })
  })

  afterAll(async () => {
    await demo?.close()
    rmSync(pageDir, { recursive: true, force: true })
  })

  it('serves the page, nothing outside its folder, and only to loopback hosts and its own origin', async () => {
    const page = await call(demo, 'GET', '/')
    expect(page.status).toBe(200)
    expect(page.json).toContain('<title>regions</title>')
    expect((await call(demo, 'GET', '/../../package.json')).status).toBe(404)
    expect((await call(demo, 'GET', '/%2e%2e/%2e%2e/package.json')).status).toBe(404)
    const rebinding = await call(demo, 'GET', '/api/state', { headers: { host: 'attacker.example' } })
    expect(rebinding.status).toBe(403)
    expect((rebinding.json as ApiError).code).toBe('ERR_FORBIDDEN')
    const crossSite = await call(demo, 'POST', '/api/heal', { body: '{}', headers: { 'content-type': 'application/json', origin: 'https://attacker.example' } })
    expect(crossSite.status).toBe(403)
    const own = await call(demo, 'POST', '/api/heal', { body: '{}', headers: { 'content-type': 'application/json', origin: demo.url.replace(/\/$/, '') } })
    expect(own.status).toBe(200)
  })

  it('reports every region with its relay’s view of the mesh', async () => {
    const { status, json } = await call(demo, 'GET', '/api/state')
    expect(status).toBe(200)
    const state = json as DemoState
    expect(state.regions.map((r) => [r.region, r.relayId, r.running])).toEqual([['eu', 'eu-1', true], ['us', 'us-1', true], ['ap', 'ap-1', true]])
    expect(state.cuts).toEqual([])
    for (const r of state.regions) {
      expect(r.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/)
      expect(r.mesh?.peers.map((p) => p.region).sort()).toEqual(['ap', 'eu', 'us'].filter((x) => x !== r.region))
    }
  })

  it('refuses bad requests with a stable code and changes nothing', async () => {
    const cases: [Promise<{ status: number; json: unknown }>, number, ApiError['code']][] = [
      [post(demo, '/api/cut', { from: 'eu', to: 'mars' }), 404, 'ERR_NOT_FOUND'],
      [post(demo, '/api/cut', { from: 'eu', to: 'eu' }), 400, 'ERR_BAD_REQUEST'],
      [post(demo, '/api/cut', { from: 'eu' }), 400, 'ERR_BAD_REQUEST'],
      [post(demo, '/api/cut', { from: 'eu', to: 'us', both: 'yes' }), 400, 'ERR_BAD_REQUEST'],
      [post(demo, '/api/heal', { a: 'eu' }), 400, 'ERR_BAD_REQUEST'],
      [post(demo, '/api/cut', []), 400, 'ERR_BAD_REQUEST'],
      [call(demo, 'POST', '/api/cut', { body: '{"from":', headers: { 'content-type': 'application/json' } }), 400, 'ERR_BAD_REQUEST'],
      [call(demo, 'POST', '/api/cut', { body: 'from=eu&to=us', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 400, 'ERR_BAD_REQUEST'],
      [post(demo, '/api/cut', { from: 'eu', to: 'us', pad: 'x'.repeat(10_000) }), 400, 'ERR_BAD_REQUEST'],
      [post(demo, '/api/relays/mars/kill', {}), 404, 'ERR_NOT_FOUND'],
      [post(demo, '/api/nothing', {}), 404, 'ERR_NOT_FOUND'],
      [post(demo, '/api/relays/eu/restart', {}), 409, 'ERR_RELAY_STATE']
    ]
    for (const [response, status, code] of cases) {
      const r = await response
      expect([r.status, (r.json as ApiError).code]).toEqual([status, code])
    }
    expect(((await call(demo, 'GET', '/api/state')).json as DemoState).cuts).toEqual([])
  })

  it('cuts one way and both ways, heals a pair and everything; the receiving relay falls behind while cut', async () => {
    const cut = await post(demo, '/api/cut', { from: 'eu', to: 'us' })
    expect(cut.status).toBe(200)
    expect((cut.json as DemoState).cuts).toEqual([{ from: 'eu', to: 'us' }])
    const usLagOnEu = async (): Promise<number | null | undefined> =>
      ((await call(demo, 'GET', '/api/state')).json as DemoState).regions.find((r) => r.region === 'us')?.mesh?.peers.find((p) => p.region === 'eu')?.stalenessMs
    await waitUntil(async () => ((await usLagOnEu()) ?? 0) > 3_000, 'us to fall more than 3 s behind eu', 20_000, 200)

    const both = await post(demo, '/api/cut', { from: 'us', to: 'ap', both: true })
    expect((both.json as DemoState).cuts).toEqual([{ from: 'eu', to: 'us' }, { from: 'us', to: 'ap' }, { from: 'ap', to: 'us' }])
    const healed = await post(demo, '/api/heal', { a: 'us', b: 'eu' })
    expect((healed.json as DemoState).cuts).toEqual([{ from: 'us', to: 'ap' }, { from: 'ap', to: 'us' }])
    await waitUntil(async () => ((await usLagOnEu()) ?? Infinity) < 3_000, 'us to catch up with eu after the heal', 20_000, 200)
    expect(((await post(demo, '/api/heal', {})).json as DemoState).cuts).toEqual([])
  })

  it('kills a relay and starts it again on the same port; a second kill or restart is refused', async () => {
    const before = demo.cluster.relay('ap-1').url
    const killed = await post(demo, '/api/relays/ap/kill', {})
    expect(killed.status).toBe(200)
    expect((killed.json as DemoState).regions.find((r) => r.region === 'ap')).toMatchObject({ running: false, mesh: null, error: 'killed' })
    expect((await post(demo, '/api/relays/ap/kill', {})).status).toBe(409)
    const restarted = await post(demo, '/api/relays/ap/restart', {})
    expect(restarted.status).toBe(200)
    expect((restarted.json as DemoState).regions.find((r) => r.region === 'ap')).toMatchObject({ running: true, wsUrl: before })
    expect((await post(demo, '/api/relays/ap/restart', {})).status).toBe(409)
  })

  it('close() stops the relays, closes the server and removes the data dirs; twice is fine', async () => {
    const other = await startRegionsDemo({ pageDir, regions: ['a', 'b'] })
    const dirs = other.cluster.relays.map((r) => r.dataDir)
    const children = other.cluster.relays.map((r) => r.process?.child)
    await Promise.all([other.close(), other.close()])
    expect(dirs.every((d) => !existsSync(d))).toBe(true)
    expect(children.every((c) => c !== undefined && (c.exitCode !== null || c.signalCode !== null))).toBe(true)
    await expect(call(other, 'GET', '/api/state')).rejects.toThrow()
  })
})
