import { createHash, randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { startFaultProxy } from './fault-proxy.js'
import { SILENCE_MS, until, startTarget, startProxy, dial, dialAs } from './fault-proxy.test-helper.js'

describe('fault proxy: latency, resets, half-close, backpressure, close', () => {
  it('adds latency in both directions and preserves the order of many small chunks', async () => {
    const target = await startTarget('echo')
    const proxy = await startProxy(target)
    const client = await dial(proxy)
    client.socket.write('warm')
    await client.waitForText('warm')

    proxy.setLatency(60)
    const t0 = performance.now()
    client.socket.write('ping')
    await client.waitForText('warmping')
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2 * 60) // one delay each way

    // Many separate small chunks; latency removed halfway: everything still arrives, in order.
    let expected = 'warmping'
    for (let i = 0; i < 300; i++) {
      const piece = `${i},`
      expected += piece
      client.socket.write(piece)
      if (i === 150) proxy.setLatency(0)
      await new Promise((resolve) => setImmediate(resolve))
    }
    await client.waitForText(expected)
  })

  it('applies per-peer latency only to that dialer', async () => {
    const target = await startTarget('echo')
    const proxy = await startProxy(target)
    const slow = await dialAs(proxy, target, 'ap-1')
    const fast = await dialAs(proxy, target, null)
    await slow.client.waitForText(slow.head) // echo of the head
    await fast.client.waitForText(fast.head)

    proxy.setLatency(100, 'ap-1')
    const t0 = performance.now()
    slow.client.socket.write('s')
    fast.client.socket.write('f')
    await fast.client.waitForText(fast.head + 'f')
    const fastMs = performance.now() - t0
    await slow.client.waitForText(slow.head + 's')
    const slowMs = performance.now() - t0
    expect(slowMs).toBeGreaterThanOrEqual(200)
    expect(fastMs).toBeLessThan(100)
  })

  it('resetConnections aborts matching connections: both ends see the connection die', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    const eu = await dialAs(proxy, target, 'eu-1')
    const us = await dialAs(proxy, target, 'us-1')

    proxy.resetConnections('eu-1')
    await eu.client.waitFor((c) => c.closed, 'client close')
    await eu.server.waitFor((c) => c.closed, 'target-side close')
    expect(eu.client.error?.code).toBe('ECONNRESET')
    expect(proxy.connections.map((c) => c.peer)).toEqual(['us-1'])

    us.client.socket.write('still-up')
    await us.server.waitForText(us.head + 'still-up')
  })

  it('propagates half-close both ways, then closes cleanly', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    const client = await dial(proxy)
    client.socket.write('bye')
    const server = await target.next()
    client.socket.end()
    await server.waitFor((c) => c.ended && c.text === 'bye', 'data then end at the target')

    server.socket.write('late reply') // the other half is still open
    await client.waitForText('late reply')
    server.socket.end()
    await client.waitFor((c) => c.ended && c.closed, 'end then close at the client')
    await server.waitFor((c) => c.closed, 'close at the target')
    expect(client.error).toBeNull()
    await until(() => proxy.connections.length === 0, 'connection forgotten')
  })

  it('closes the dialer when the target aborts or is unreachable', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    const client = await dial(proxy)
    client.socket.write('hi')
    const server = await target.next()
    await server.waitForText('hi')
    server.socket.resetAndDestroy()
    await client.waitFor((c) => c.closed, 'client closed after target reset')

    // A port with nothing listening on it.
    const dead = await startTarget('sink')
    const deadPort = dead.port
    await new Promise<void>((resolve) => dead.server.close(() => resolve()))
    const proxyToNowhere = await startProxy(deadPort)
    const orphan = await dial(proxyToNowhere)
    await orphan.waitFor((c) => c.closed, 'client closed after ECONNREFUSED')
  })

  it('respects backpressure: 50 MB to a slow reader without buffering it in the proxy', async () => {
    let targetSocket: Socket | undefined
    const target = await startTarget('sink', (socket) => {
      socket.pause() // the reader does not read at all at first
      targetSocket = socket
    })
    const proxy = await startProxy(target)
    const client = await dial(proxy)
    const total = 50 * 1024 * 1024
    const block = randomBytes(64 * 1024)
    const sentHash = createHash('sha256')
    let written = 0
    let writerBlocked = false
    const writeMore = (): void => {
      while (written < total) {
        // Rotate the block so reordering would change the hash.
        const chunk = Buffer.concat([block.subarray(written % 4096), block.subarray(0, written % 4096)])
        sentHash.update(chunk)
        written += chunk.length
        if (!client.socket.write(chunk)) {
          writerBlocked = true
          client.socket.once('drain', writeMore)
          return
        }
      }
      client.socket.end()
    }
    writeMore()

    await until(() => proxy.stats.backpressurePauses > 0 && writerBlocked, 'the proxy to pause its source')
    // Bounded window (SILENCE_MS) for kernel buffers to fill up; with the target not
    // reading, everything must stall far short of 50 MB, and the proxy itself must
    // hold no more than about one socket buffer's worth.
    await new Promise((resolve) => setTimeout(resolve, SILENCE_MS))
    expect(proxy.stats.maxBufferedBytes).toBeLessThan(1024 * 1024)
    expect(proxy.stats.bytesToTarget).toBeLessThan(total / 2)
    expect(written).toBeLessThan(total / 2) // the client is held back too: the proxy is not soaking it up

    // Now read, slowly: one chunk per event-loop turn.
    const received = createHash('sha256')
    let receivedBytes = 0
    const reader = targetSocket!
    reader.removeAllListeners('data')
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out with ${receivedBytes} bytes received`)), 4000)
      reader.on('data', (chunk: Buffer) => {
        received.update(chunk)
        receivedBytes += chunk.length
        reader.pause()
        setImmediate(() => reader.resume())
      })
      reader.on('end', () => {
        clearTimeout(timer)
        resolve()
      })
    })
    reader.resume()
    await done
    expect(receivedBytes).toBe(total)
    expect(received.digest('hex')).toBe(sentHash.digest('hex'))
    expect(proxy.stats.maxBufferedBytes).toBeLessThan(1024 * 1024)
    expect(proxy.stats.backpressurePauses).toBeGreaterThan(1)
  })

  it('close() resolves with open connections and queued data, and is idempotent', async () => {
    const target = await startTarget('echo')
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: target.port } })
    const a = await dialAs(proxy, target, 'eu-1')
    const b = await dial(proxy)
    proxy.setLatency(10_000)
    a.client.socket.write('queued')

    const first = proxy.close()
    expect(proxy.close()).toBe(first)
    await first
    await proxy.close()
    // The test clients allow half-open sockets, so a FIN shows up as 'end', a reset as 'close'.
    await a.client.waitFor((c) => c.ended || c.closed, 'client a closed')
    await b.waitFor((c) => c.ended || c.closed, 'client b closed')
    expect(proxy.connections).toEqual([])

    const refused = connect({ host: '127.0.0.1', port: proxy.port })
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => refused.once('error', resolve))
    expect(err.code).toBe('ECONNREFUSED')
  })
})
