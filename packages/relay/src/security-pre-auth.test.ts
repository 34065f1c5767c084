import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CLOSE_CODES } from '@meridian/relay'
import { RawClient, waitUntil } from '@meridian/testing'
import { SECRET, metric, relayPool, scrape } from './test-support/helpers.js'
import { closeCodeIn, frameHeader, rawUpgrade } from './test-support/wire.js'

const pool = relayPool()
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await pool.closeAll()
})

const MiB = 1024 * 1024

describe('unauthenticated memory (security #15, finding 4)', () => {
  it('a client without a token cannot make the relay buffer a partial frame past the pre-auth budget', async () => {
    const { url, relay } = await pool.start({ auth: { mode: 'jwt', secret: SECRET } })
    const wire = await rawUpgrade(url, '/doc')
    sockets.push(wire.socket)
    // One frame announcing 12 MiB (under the 16 MiB frame limit), its payload trickled in and never finished.
    wire.socket.write(frameHeader(12 * MiB))
    let sent = 0
    let closed = false
    void wire.closed.then(() => {
      closed = true
    })
    const chunk = Buffer.alloc(16 * 1024)
    // Bounded: 64 MiB at most; the relay stops reading after the budget, so writes back up and it destroys the socket.
    while (!closed && sent < 64 * MiB) {
      const ok = wire.socket.write(chunk)
      sent += chunk.length
      if (!ok) await Promise.race([new Promise((r) => wire.socket.once('drain', r)), wire.closed])
    }
    await wire.closed
    expect(closeCodeIn(wire.received())).toBe(CLOSE_CODES.AUTH_TIMEOUT)
    expect(metric(await scrape(relay), 'meridian_relay_rejected_messages_total', { reason: 'pre_auth_budget' })).toBe(1)
  }, 30_000)

  it('half-open upgrades (slow headers) count against the per-IP cap and time out', async () => {
    const { url, relay } = await pool.start({ maxConnectionsPerIp: 8, headerTimeoutMs: 300 })
    const { hostname, port } = new URL(url)
    const closedAt: boolean[] = []
    for (let i = 0; i < 40; i++) {
      const s = connect({ host: hostname, port: Number(port) })
      sockets.push(s)
      s.on('error', () => undefined)
      closedAt.push(false)
      s.once('close', () => {
        closedAt[i] = true
      })
      s.write('GET /doc HTTP/1.1\r\nHost: x\r\n') // and never the rest
    }
    // Past the cap they are dropped at once; the others when their headers time out.
    await waitUntil(() => closedAt.every(Boolean), 'every slow connection closed', 10_000)
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_connections_refused_total', { reason: 'too_many_per_ip' })).toBeGreaterThanOrEqual(32)
    expect(metric(m, 'meridian_relay_connections_refused_total', { reason: 'header_timeout' })).toBeGreaterThanOrEqual(1)
    // An honest client is served.
    const c = await RawClient.connect(url, 'doc')
    await c.next('sync-step1')
    await c.close()
  }, 30_000)
})

describe('oversized frames (#14)', () => {
  it('the client receives the 1009 close frame (not a bare 1006)', async () => {
    const { url } = await pool.start({ maxMessageBytes: MiB })
    const ws = new WebSocket(`${url}/big`)
    await new Promise((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
    ws.on('error', () => undefined)
    ws.send(Buffer.alloc(2 * MiB))
    expect(await closed).toBe(CLOSE_CODES.MESSAGE_TOO_BIG)
  })
})
