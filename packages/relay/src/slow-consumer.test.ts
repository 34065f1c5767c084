import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { RawClient } from '@meridian/testing'
import { metric, relayPool, scrape } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

const MAX_BUFFERED = 1024 * 1024
const UPDATES = 400
const BLOB = 48 * 1024

describe('slow consumers', () => {
  it('one client that never reads is cut off at its buffer cap; nine that read get everything, and the relay stays bounded', async () => {
    const { url, relay } = await pool.start({
      maxMessageBytes: 128 * 1024,
      maxBufferedBytes: MAX_BUFFERED,
      rateLimit: { bytesPerSecond: 0, messagesPerSecond: 0 }
    })
    const readers = await Promise.all(Array.from({ length: 9 }, () => RawClient.connect(url, 'fanout')))
    const slow = await RawClient.connect(url, 'fanout')
    const writer = await RawClient.connect(url, 'fanout')
    await Promise.all([...readers, slow, writer].map((c) => c.next('sync-step1')))
    // Stop reading at the TCP level: the kernel buffers fill, then the relay's send buffer.
    const tcp = (slow.socket as unknown as { _socket: { pause: () => void; resume: () => void } })._socket
    tcp.pause()

    let maxBuffered = 0
    const sample = (): void => {
      for (const ws of relay.app.websocketServer.clients) maxBuffered = Math.max(maxBuffered, ws.bufferedAmount)
    }
    const counts = readers.map(() => 0)
    const allIn = Promise.all(readers.map((r, i) => new Promise<void>((resolve) => {
      r.socket.on('message', () => {
        if (i === 0) sample()
        if (r.received.at(-1)?.type === 'sync-update' && ++counts[i]! === UPDATES) resolve()
      })
    })))
    for (let i = 0; i < UPDATES; i++) {
      writer.edit((d) => d.getMap('m').set('blob', `${i}:${'x'.repeat(BLOB)}`))
      if (i % 50 === 0) sample()
      // A writer with a window, as real ones have: the readers share this process with the relay,
      // and an unbounded burst would be batched into single broadcasts larger than the cap.
      if (i % 8 === 7) await writer.next('ack', (m) => m.upTo >= i + 2, 30_000)
    }
    await allIn
    await writer.next('ack', (m) => m.upTo >= UPDATES + 1)
    sample()

    // The nine got every update, in full; none was disconnected.
    for (const r of readers) {
      expect(r.doc.getMap('m').get('blob')).toBe(`${UPDATES - 1}:${'x'.repeat(BLOB)}`)
      expect(r.closeEvent).toBeNull()
    }
    // The relay never held more than the cap for any socket.
    expect(maxBuffered).toBeLessThanOrEqual(MAX_BUFFERED)
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_connections_closed_total', { reason: 'slow_consumer' })).toBe(1)
    expect(relay.app.websocketServer.clients.size).toBe(10)

    // When it comes back, it resyncs by state vector.
    tcp.resume()
    await slow.closed()
    const back = await RawClient.connect(url, 'fanout')
    Y.applyUpdate(back.doc, Y.encodeStateAsUpdate(slow.doc))
    back.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(back.doc) })
    await back.next('sync-step2')
    expect(back.doc.getMap('m').get('blob')).toBe(`${UPDATES - 1}:${'x'.repeat(BLOB)}`)
  })
})
