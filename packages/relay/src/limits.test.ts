import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { MemoryStorageAdapter } from '@meridian/storage'
import { CLOSE_CODES, DEFAULT_RELAY_OPTIONS, buildRelay, resolveRelayOptions } from '@meridian/relay'
import { encodeMessage, type Message } from '@meridian/protocol'
import { RawClient } from '@meridian/testing'
import { metric, relayPool, scrape } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

/** Writes several frames in one TCP write, so the relay reads them as one chunk (what a flood looks like). */
function sendInOneWrite(client: RawClient, messages: Message[]): void {
  const frames = messages.flatMap((m) => WebSocket.Sender.frame(Buffer.from(encodeMessage(m)), {
    fin: true, rsv1: false, opcode: 2, mask: true, readOnly: false
  }))
  ;(client.socket as unknown as { _socket: { write: (b: Buffer) => void } })._socket.write(Buffer.concat(frames))
}

const stored = async (storage: MemoryStorageAdapter, name: string): Promise<Y.Doc> => {
  const s = await storage.load(name)
  const doc = new Y.Doc()
  if (s?.snapshot) Y.applyUpdate(doc, s.snapshot)
  for (const u of s?.updates ?? []) Y.applyUpdate(doc, u.data)
  return doc
}

describe('options', () => {
  it('has a documented default for every limit, and refuses inconsistent ones', () => {
    expect(DEFAULT_RELAY_OPTIONS).toMatchObject({
      maxMessageBytes: 16 * 1024 * 1024,
      maxDocumentBytes: 8 * 1024 * 1024,
      maxBufferedBytes: 64 * 1024 * 1024,
      maxConnections: 10_000,
      maxConnectionsPerIp: 256,
      maxDocsPerConnection: 1_000,
      idleTimeoutMs: 600_000,
      pingIntervalMs: 30_000,
      rateLimit: { messagesPerSecond: 200, burstMessages: 2_000, bytesPerSecond: 4 * 1024 * 1024, burstBytes: 32 * 1024 * 1024 },
      preAuth: { maxFrames: 8, maxBytes: 64 * 1024, timeoutMs: 10_000 },
      httpRateLimit: { requestsPerSecond: 50, burstRequests: 200 }
    })
    const storage = new MemoryStorageAdapter()
    expect(resolveRelayOptions({ storage }).auth).toEqual({ mode: 'none' })
    // Below the frame limit by default, so a whole document always fits one sync-step2.
    expect(resolveRelayOptions({ storage, maxMessageBytes: 4096 }).maxDocumentBytes).toBeLessThan(4096)
    expect(() => resolveRelayOptions({ storage, maxMessageBytes: 4096, maxDocumentBytes: 4096 })).toThrow(/maxDocumentBytes/)
    expect(() => resolveRelayOptions({ storage, maxBufferedBytes: 1024 })).toThrow(/maxBufferedBytes/)
    expect(() => resolveRelayOptions({ storage, rateLimit: { burstBytes: 1024 } })).toThrow(/burstBytes/)
    expect(() => resolveRelayOptions({ storage, adminToken: 'short' })).toThrow(/adminToken/)
    expect(() => resolveRelayOptions({ storage, maxDocsPerConnection: 0 })).toThrow(/maxDocsPerConnection/)
  })
})

describe('frame size', () => {
  it('closes an oversized frame with 1009 (ws maxPayload), applies nothing of it, and counts it', async () => {
    const { url, storage, relay } = await pool.start({ maxMessageBytes: 4096 })
    expect(relay.app.websocketServer.options.maxPayload).toBe(4096)
    const other = await RawClient.connect(url, 'big')
    await other.next('sync-step1')
    const c = await RawClient.connect(url, 'big')
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'x'.repeat(10_000))
    c.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc) })
    expect((await c.closed()).code).toBe(CLOSE_CODES.MESSAGE_TOO_BIG)
    expect((await stored(storage as MemoryStorageAdapter, 'big')).getText('t').length).toBe(0)
    expect(other.received.some((m) => m.type === 'sync-update')).toBe(false)
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_rejected_messages_total', { reason: 'oversized' })).toBe(1)
  })
})

describe('document size', () => {
  it('refuses a write that would exceed maxDocumentBytes (4413); the document stays loadable', async () => {
    const storage = new MemoryStorageAdapter()
    const { url, relay } = await pool.start({ storage, maxMessageBytes: 64 * 1024, maxDocumentBytes: 2_000 })
    const a = await RawClient.connect(url, 'capped')
    a.edit((d) => d.getText('t').insert(0, 'y'.repeat(1_000)))
    await a.next('ack', (m) => m.upTo >= 2)
    const watcher = await RawClient.connect(url, 'capped')
    await watcher.next('sync-step1')
    a.edit((d) => d.getText('t').insert(0, 'z'.repeat(1_500)))
    expect(await a.closed()).toEqual({ code: CLOSE_CODES.DOC_TOO_LARGE, reason: 'ERR_DOC_TOO_LARGE' })
    expect(a.received.some((m) => m.type === 'error' && m.code === 'ERR_DOC_TOO_LARGE' && m.fatal)).toBe(true)
    expect(watcher.received.some((m) => m.type === 'sync-update')).toBe(false)
    expect((await stored(storage, 'capped')).getText('t').toString()).toBe('y'.repeat(1_000))
    // Small writes still fit; a fresh relay on the same storage loads the document.
    watcher.edit((d) => d.getMap('m').set('small', 1))
    await watcher.next('ack', (m) => m.upTo >= 2)
    await relay.close()
    const again = await pool.start({ storage, maxMessageBytes: 64 * 1024, maxDocumentBytes: 2_000 })
    const reader = await RawClient.connect(again.url, 'capped')
    reader.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    await reader.next('sync-step2')
    expect(reader.doc.getText('t').toString()).toBe('y'.repeat(1_000))
    expect(reader.doc.getMap('m').get('small')).toBe(1)
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_rejected_messages_total', { reason: 'doc_too_large' })).toBe(1)
  })
})

describe('connection counts', () => {
  it('refuses connections past maxConnections and maxConnectionsPerIp with 1013, and admits again once some close', async () => {
    const { url, relay } = await pool.start({ maxConnections: 4, maxConnectionsPerIp: 2, trustProxy: true })
    const from = (ip: string): Promise<RawClient> => RawClient.connect(url, 'crowd', { headers: { 'x-forwarded-for': ip } })
    const a1 = await from('10.0.0.1')
    const a2 = await from('10.0.0.1')
    await a2.next('sync-step1')
    const a3 = await from('10.0.0.1')
    expect(await a3.closed()).toEqual({ code: CLOSE_CODES.TRY_AGAIN_LATER, reason: 'ERR_TOO_MANY_CONNECTIONS' })
    const b1 = await from('10.0.0.2')
    const b2 = await from('10.0.0.2')
    await b2.next('sync-step1')
    const c1 = await from('10.0.0.3')
    expect((await c1.closed()).code).toBe(CLOSE_CODES.TRY_AGAIN_LATER)
    await a1.close()
    // The slot is released when the relay sees the close; retry until then (bounded).
    let c2: RawClient | null = null
    for (let i = 0; i < 50 && c2 === null; i++) {
      const attempt = await from('10.0.0.3')
      const first = await Promise.race([attempt.next('sync-step1').then(() => 'in'), attempt.closed().then(() => 'out')])
      if (first === 'in') c2 = attempt
    }
    expect(c2).not.toBeNull()
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_connections_refused_total', { reason: 'too_many_per_ip' })).toBe(1)
    expect(metric(m, 'meridian_relay_connections_refused_total', { reason: 'too_many_connections' })).toBeGreaterThanOrEqual(1)
    expect(b1.closeEvent).toBeNull()
  })
})

describe('rate limits', () => {
  it('pauses a connection over its rate and serves it once the bucket refills', async () => {
    const { url, relay } = await pool.start({ rateLimit: { messagesPerSecond: 100, burstMessages: 5 } })
    const c = await RawClient.connect(url, 'steady')
    await c.next('sync-step1')
    for (let i = 0; i < 8; i++) c.edit((d) => d.getMap('m').set(`k${i}`, i))
    // hello + step 2 + 8 updates: at most 5 over the burst of 5, so paused, never closed.
    await c.next('ack', (m) => m.upTo >= 9)
    expect(c.closeEvent).toBeNull()
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_throttled_total')).toBeGreaterThanOrEqual(1)
  })

  it('closes a flood of messages or bytes more than a burst over the rate with 4429; other clients are unaffected', async () => {
    const { url, relay } = await pool.start({
      maxMessageBytes: 2048,
      rateLimit: { messagesPerSecond: 1, burstMessages: 5, bytesPerSecond: 1000, burstBytes: 2048 }
    })
    const bystander = await RawClient.connect(url, 'flood')
    await bystander.next('sync-step1')
    const flood = await RawClient.connect(url, 'flood', { hello: false })
    await flood.next('sync-step1')
    sendInOneWrite(flood, Array.from({ length: 20 }, () => ({ type: 'query-awareness' as const })))
    expect(await flood.closed()).toEqual({ code: CLOSE_CODES.RATE_LIMITED, reason: 'ERR_RATE_LIMITED' })

    const heavy = await RawClient.connect(url, 'flood', { hello: false })
    await heavy.next('sync-step1')
    const blob = { type: 'sync-update' as const, update: new Uint8Array(1_900) }
    sendInOneWrite(heavy, [blob, blob, blob])
    expect((await heavy.closed()).code).toBe(CLOSE_CODES.RATE_LIMITED)

    bystander.edit((d) => d.getMap('m').set('fine', true))
    await bystander.next('ack', (m) => m.upTo >= 2)
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_connections_closed_total', { reason: 'rate_limited' })).toBe(2)
  })
})

describe('idle timeout and heartbeat', () => {
  it('closes a connection that sent nothing for idleTimeoutMs with 4008', async () => {
    const { url } = await pool.start({ idleTimeoutMs: 150 })
    const quiet = await RawClient.connect(url, 'idle')
    expect(await quiet.closed()).toEqual({ code: CLOSE_CODES.IDLE_TIMEOUT, reason: 'ERR_IDLE_TIMEOUT' })
  })

  it('terminates a socket that stops answering pings; live ones stay', async () => {
    const { url, relay } = await pool.start({ pingIntervalMs: 50 })
    const dead = await RawClient.connect(url, 'hb', { ws: { autoPong: false } })
    const alive = await RawClient.connect(url, 'hb')
    await alive.next('sync-step1')
    // Terminated without a close frame: the client sees an abnormal closure.
    expect((await dead.closed()).code).toBe(1006)
    expect(alive.closeEvent).toBeNull()
    alive.edit((d) => d.getMap('m').set('k', 1))
    await alive.next('ack', (m) => m.upTo >= 2)
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_connections_closed_total', { reason: 'heartbeat' })).toBe(1)
  })
})

describe('relay close', () => {
  it('is counted as shutdown', async () => {
    const storage = new MemoryStorageAdapter()
    const relay = await buildRelay({ storage })
    const url = await relay.listen({ port: 0, host: '127.0.0.1' })
    const c = await RawClient.connect(url, 'bye')
    await c.next('sync-step1')
    await relay.close()
    expect((await c.closed()).code).toBe(CLOSE_CODES.GOING_AWAY)
    expect(metric(await scrape(relay), 'meridian_relay_connections_closed_total', { reason: 'shutdown' })).toBe(1)
  })
})
