import { afterEach, describe, expect, it } from 'vitest'
import { RawClient } from '@meridian/testing'
import { metric, relayPool, scrape } from './test-support/helpers.js'
import { MuxClient } from './test-support/mux-client.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

const MAX_BUFFERED = 1024 * 1024
// 2 × 200 × 48 KiB ≈ 19 MB: past any loopback kernel buffering.
const UPDATES = 200
const BLOB = 48 * 1024

describe('a multiplexed socket that does not read', () => {
  it('is cut off at its buffer cap, counted over all its documents; the writers are not affected', async () => {
    const { url, relay } = await pool.start({
      maxMessageBytes: 128 * 1024,
      maxBufferedBytes: MAX_BUFFERED,
      rateLimit: { bytesPerSecond: 0, messagesPerSecond: 0 }
    })
    const mux = await MuxClient.connect(url)
    mux.open(1, 'slow-a')
    mux.open(2, 'slow-b')
    await mux.nextOf(1, 'hello')
    await mux.nextOf(2, 'hello')
    const writers = await Promise.all(['slow-a', 'slow-b'].map((name) => RawClient.connect(url, name)))
    await Promise.all(writers.map((w) => w.next('sync-step1')))
    // Stop reading at the TCP level: the kernel buffers fill, then the relay's send buffer.
    const tcp = (mux.socket as unknown as { _socket: { pause: () => void; resume: () => void } })._socket
    tcp.pause()

    let maxBuffered = 0
    const sample = (): void => {
      for (const ws of relay.app.websocketServer.clients) maxBuffered = Math.max(maxBuffered, ws.bufferedAmount)
    }
    for (let i = 0; i < UPDATES; i++) {
      for (const w of writers) w.edit((d) => d.getMap('m').set('blob', `${i}:${'x'.repeat(BLOB)}`))
      sample()
      // Writers with a window (see slow-consumer.test.ts).
      if (i % 8 === 7) await Promise.all(writers.map((w) => w.next('ack', (m) => m.upTo >= i + 2, 30_000)))
    }
    await Promise.all(writers.map((w) => w.next('ack', (m) => m.upTo >= UPDATES + 1, 30_000)))
    sample()
    expect(maxBuffered).toBeLessThanOrEqual(MAX_BUFFERED)
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_connections_closed_total', { reason: 'slow_consumer' })).toBe(1)
    expect(metric(m, 'meridian_relay_mux_documents')).toBe(0)
    for (const w of writers) expect(w.closeEvent).toBeNull()
    tcp.resume()
    await mux.closed()
  })
})
