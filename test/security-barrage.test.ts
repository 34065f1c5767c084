/**
 * Security #15, all findings at once against a real relay process: every
 * attack is refused, honest clients converge meanwhile, then the relay is
 * killed (SIGKILL) and restarted on the same data: every acknowledged write is
 * there and every document touched loads.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as encoding from 'lib0/encoding'
import { CLOSE_CODES, mintToken } from '@meridian/relay'
import { RawClient, relayView, startRelayProcess, waitUntil, type RelayProcess } from '@meridian/testing'
import { deepNesting, deleteSetUpdate, splittingDeletes } from '../packages/relay/src/test-support/attacks.js'
import { closeCodeIn, frameHeader, rawUpgrade } from '../packages/relay/src/test-support/wire.js'

const SECRET = 'barrage-secret-that-is-at-least-32-bytes'
const ADMIN = 'barrage-admin-token-0123'
const MiB = 1024 * 1024

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function relayProcess(dir: string): Promise<RelayProcess> {
  const p = await startRelayProcess([
    '--data-dir', dir, '--auth', 'jwt', '--jwt-secret', SECRET, '--admin-token', ADMIN,
    '--http-requests-per-second', '5', '--http-burst-requests', '20'
  ])
  cleanups.push(() => (p.child.exitCode === null && p.child.signalCode === null ? p.kill('SIGKILL') : undefined))
  return p
}

const token = (access: 'read' | 'write', extra: { sub?: string; nowMs?: number } = {}): Promise<string> =>
  mintToken({ secret: SECRET, docs: [{ pattern: '*', access }], ttlSeconds: 3_600, ...extra })

function httpStatus(url: string, method: string, path: string, body?: string): Promise<number> {
  const { hostname, port } = new URL(url.replace(/^ws/, 'http'))
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers: body !== undefined ? { 'content-type': 'application/json' } : {} }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** A document API request: its status and error code (null on success). */
function httpCall(url: string, method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<{ status: number; code: string | null }> {
  const { hostname, port } = new URL(url.replace(/^ws/, 'http'))
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers: body !== undefined ? { ...headers, 'content-type': 'application/octet-stream' } : headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const status = res.statusCode ?? 0
        let code: string | null = null
        if (status >= 400) code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error: { code: string } }).error.code
        resolve({ status, code })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function closeOf(c: RawClient): Promise<number> {
  return (await c.closed(20_000)).code
}

describe('security barrage (#15)', () => {
  it('refuses every attack, honest clients converge, and every acknowledged write survives SIGKILL + restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-barrage-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const relay = await relayProcess(dir)
    const url = relay.url
    const write = await token('write', { sub: 'honest', nowMs: Date.now() - 60_000 })

    // Honest writers on one document, acknowledged writes recorded as they come.
    const writers = await Promise.all([0, 1, 2].map(() => RawClient.connect(url, 'shared', { query: { token: write } })))
    await Promise.all(writers.map((w) => w.next('sync-step1')))
    const acked = new Map<string, number>()
    let stopHonest = false
    const honest = Promise.all(writers.map(async (w, wi) => {
      // Message 1 of each writer is its step-2 reply; edit n is message n + 2. Bounded.
      for (let n = 0; n < 400 && !stopHonest; n++) {
        w.edit((d) => d.getMap('m').set(`w${wi}-${n}`, n))
        const ack = await w.next('ack', (a) => a.upTo >= n + 2, 20_000)
        for (let k = 0; k <= n && k < ack.upTo - 1; k++) acked.set(`w${wi}-${k}`, k)
      }
    }))

    // 1. Admin API, percent-encoded.
    for (const path of ['/%76%31/status', '/v%31/status']) expect(await httpStatus(url, 'GET', path)).toBe(401)
    expect(await httpStatus(url, 'POST', '/%761/revocations', JSON.stringify({ sub: 'honest' }))).toBe(401)

    // 1b. The document API: no token, a reserved name, hostile updates over HTTP, then a request flood.
    const bearer = { authorization: `Bearer ${write}` }
    expect(await httpCall(url, 'GET', '/v1/docs', {})).toEqual({ status: 401, code: 'ERR_AUTH_REQUIRED' })
    expect(await httpCall(url, 'GET', `/v1/docs/${encodeURIComponent('_meridian/revocations')}`, bearer)).toEqual({ status: 400, code: 'ERR_DOC_NAME' })
    expect(await httpCall(url, 'POST', '/v1/docs/http-victim/updates', bearer, deepNesting(3_000).update)).toEqual({ status: 400, code: 'ERR_UPDATE_TOO_DEEP' })
    expect(await httpCall(url, 'POST', '/v1/docs/http-victim/updates', bearer, new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]))).toEqual({ status: 400, code: 'ERR_UPDATE_INVALID' })
    const floodStartMs = Date.now()
    const flood = await Promise.all(Array.from({ length: 40 }, () => httpCall(url, 'GET', '/v1/docs/http-victim/changes?after=0', bearer)))
    const floodSeconds = Math.ceil((Date.now() - floodStartMs) / 1000)
    const limited = flood.filter((r) => r.status === 429)
    expect(limited.length).toBeGreaterThan(0)
    expect(limited.every((r) => r.code === 'ERR_RATE_LIMITED')).toBe(true)
    // At most the burst (20) plus what refilled meanwhile (5/s) got through.
    expect(flood.filter((r) => r.status === 200).length).toBeLessThanOrEqual(20 + 5 * floodSeconds)

    // 2. Deep nesting, then the delete that would have bricked the document.
    const deep = await RawClient.connect(url, 'shared', { query: { token: write } })
    const nesting = deepNesting(3_000)
    deep.send({ type: 'sync-update', update: nesting.update })
    deep.send({ type: 'sync-update', update: deleteSetUpdate(nesting.outer.client, [[nesting.outer.clock, 1]]) })
    expect(await closeOf(deep)).toBe(CLOSE_CODES.INVALID_UPDATE)

    // 5. Delete-set splitting.
    const splitter = await RawClient.connect(url, 'victim', { query: { token: write } })
    const split = splittingDeletes(300 * 1024, 150_000)
    splitter.send({ type: 'sync-update', update: split.insert })
    await splitter.next('ack', (a) => a.upTo >= 1)
    splitter.send({ type: 'sync-update', update: split.deletes })
    expect(await closeOf(splitter)).toBe(CLOSE_CODES.INVALID_UPDATE)

    // 4. Pre-auth: a partial frame from a socket without a token; slow headers.
    const wire = await rawUpgrade(url, '/shared')
    cleanups.push(() => wire.socket.destroy())
    wire.socket.write(frameHeader(12 * MiB))
    const chunk = Buffer.alloc(16 * 1024)
    let closed = false
    void wire.closed.then(() => {
      closed = true
    })
    for (let sent = 0; !closed && sent < 64 * MiB; sent += chunk.length) {
      if (!wire.socket.write(chunk)) await Promise.race([new Promise((r) => wire.socket.once('drain', r)), wire.closed])
    }
    await wire.closed
    expect(closeCodeIn(wire.received())).toBe(CLOSE_CODES.AUTH_TIMEOUT)
    const { hostname, port } = new URL(url)
    const slow: Socket[] = []
    for (let i = 0; i < 50; i++) {
      const s = connect({ host: hostname, port: Number(port) })
      s.on('error', () => undefined)
      s.write('GET /shared HTTP/1.1\r\nHost: x\r\n')
      slow.push(s)
    }
    cleanups.push(() => slow.forEach((s) => s.destroy()))

    // 7. Awareness: another's id, a flood of ids, a huge state.
    const forger = await RawClient.connect(url, 'shared', { query: { token: write } })
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 20_001)
    for (let i = 0; i < 20_000; i++) {
      encoding.writeVarUint(e, 50_000 + i)
      encoding.writeVarUint(e, 1)
      encoding.writeVarString(e, '{}')
    }
    encoding.writeVarUint(e, 9)
    encoding.writeVarUint(e, 1)
    encoding.writeVarString(e, JSON.stringify({ blob: 'x'.repeat(1_900_000) }))
    forger.send({ type: 'awareness', update: encoding.toUint8Array(e) })

    // 8. Read amplification.
    const reader = await RawClient.connect(url, 'victim', { query: { token: await token('read') } })
    for (let i = 0; i < 200; i++) reader.send({ type: 'sync-step1', stateVector: new Uint8Array([1, 5, 1]) })
    expect(await closeOf(reader)).toBe(CLOSE_CODES.RATE_LIMITED)

    // 9. A token dated ahead; a plain GET with a token.
    const ahead = await RawClient.connect(url, 'shared', { query: { token: await token('write', { nowMs: Date.now() + 3_600_000 }) } })
    expect(await closeOf(ahead)).toBe(CLOSE_CODES.UNAUTHENTICATED)
    expect(await httpStatus(url, 'GET', `/shared?token=${write}`)).toBeGreaterThanOrEqual(400)

    // #14: an oversized frame gets its close code.
    const big = new WebSocket(`${url}/shared?token=${write}`)
    big.on('error', () => undefined)
    await new Promise((resolve, reject) => {
      big.once('open', resolve)
      big.once('close', reject)
    })
    const bigClosed = new Promise<number>((resolve) => big.once('close', (code) => resolve(code)))
    big.send(Buffer.alloc(17 * MiB))
    expect(await bigClosed).toBe(CLOSE_CODES.MESSAGE_TOO_BIG)

    // The forger's flood shows as at most its cap of ids to an honest observer.
    const observer = await RawClient.connect(url, 'shared', { query: { token: write } })
    observer.send({ type: 'query-awareness' })
    await waitUntil(() => observer.received.some((m) => m.type === 'awareness'), 'awareness state', 10_000)
    const presence = new awarenessProtocol.Awareness(new Y.Doc())
    for (const m of observer.received) if (m.type === 'awareness') awarenessProtocol.applyAwarenessUpdate(presence, m.update, 'relay')
    expect(presence.getStates().has(9)).toBe(false) // the 1.9 MB state
    expect([...presence.getStates().keys()].filter((id) => id >= 50_000 && id !== presence.clientID).length).toBeLessThanOrEqual(4)

    // Honest clients converge.
    await waitUntil(() => acked.size >= 60, 'honest writes acknowledged', 20_000)
    const snapshot = (w: RawClient): string => JSON.stringify(w.doc.getMap('m').toJSON(), Object.keys(w.doc.getMap('m').toJSON()).sort())
    stopHonest = true
    await honest
    await waitUntil(() => writers.every((w) => snapshot(w) === snapshot(writers[0] as RawClient)), 'writers converge', 20_000)
    // Then a burst in flight, and the kill.
    for (let n = 0; n < 50; n++) (writers[n % 3] as RawClient).edit((d) => d.getMap('m').set(`burst-${n}`, n))
    const ackedAtKill = new Map(acked)
    await relay.kill('SIGKILL')

    const restarted = await relayProcess(dir)
    const reader2 = await token('read')
    const view = await relayView(restarted.url, 'shared', { query: { token: reader2 } })
    const missing = [...ackedAtKill].filter(([k, v]) => view.getMap('m').get(k) !== v).map(([k]) => k)
    expect(missing).toEqual([])
    expect(view.getMap('root').has('a')).toBe(false) // the deep nesting never got in
    const victim = await relayView(restarted.url, 'victim', { query: { token: reader2 } })
    expect(victim.getText('t').length).toBe(300 * 1024)
    expect(restarted.output()).not.toMatch(/ERR_DOC_CORRUPT|document load failed/)
  }, 120_000)
})
