import { createHash, randomBytes } from 'node:crypto'
import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { afterEach, describe, expect, it } from 'vitest'
import { startFaultProxy } from './fault-proxy.js'
import type { FaultProxy, FaultProxyOptions, PartitionDirection } from './fault-proxy.js'
import { healAll, healPair, isolate, partitionPair } from './partition-plan.js'

// ---------------------------------------------------------------------------
// Helpers (loopback only, ephemeral ports, every wait bounded)
// ---------------------------------------------------------------------------

const WAIT_MS = 2000
/**
 * Where a test must show that something does NOT arrive, it watches for this
 * bounded window: far longer than a loopback hop, short enough to keep the file fast.
 */
const SILENCE_MS = 100

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

/** Collects everything a socket emits; `waitFor` resolves on the event that satisfies the predicate. */
class Collector {
  data = Buffer.alloc(0)
  ended = false
  closed = false
  error: NodeJS.ErrnoException | null = null
  private waiters = new Set<() => void>()

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.data = Buffer.concat([this.data, chunk])
      this.notify()
    })
    socket.on('end', () => {
      this.ended = true
      this.notify()
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error = err
      this.notify()
    })
    socket.on('close', () => {
      this.closed = true
      this.notify()
    })
  }

  get text(): string {
    return this.data.toString('latin1')
  }

  waitFor(predicate: (c: Collector) => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    if (predicate(this)) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!predicate(this)) return
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (have ${JSON.stringify(this.text.slice(-200))}, ended=${this.ended}, closed=${this.closed})`))
      }, timeoutMs)
      this.waiters.add(check)
    })
  }

  waitForText(text: string): Promise<void> {
    return this.waitFor((c) => c.text === text, JSON.stringify(text))
  }

  /** Bounded observation window (SILENCE_MS): nothing new may arrive on this socket. */
  async expectNothingNew(): Promise<void> {
    const before = this.data.length
    const endedBefore = this.ended
    await new Promise((resolve) => setTimeout(resolve, SILENCE_MS))
    expect(this.data.length, `unexpected bytes: ${JSON.stringify(this.data.subarray(before).toString('latin1'))}`).toBe(before)
    expect(this.ended).toBe(endedBefore)
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter()
  }
}

/** Poll a counter the proxy exposes (it has no events for them); bounded. */
async function until(predicate: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

interface Target {
  port: number
  /** Next accepted connection (bounded wait). */
  next(): Promise<Collector>
  server: Server
}

/** A TCP server standing in for a relay: 'echo' pipes every connection back to itself, 'sink' just collects. */
async function startTarget(mode: 'echo' | 'sink', onAccept?: (socket: Socket) => void): Promise<Target> {
  const accepted: Collector[] = []
  const pending: Array<(c: Collector) => void> = []
  const sockets = new Set<Socket>()
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    onAccept?.(socket)
    if (mode === 'echo') socket.pipe(socket)
    const collector = new Collector(socket)
    const waiter = pending.shift()
    if (waiter !== undefined) waiter(collector)
    else accepted.push(collector)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  )
  return {
    port: (server.address() as AddressInfo).port,
    server,
    next() {
      const ready = accepted.shift()
      if (ready !== undefined) return Promise.resolve(ready)
      return new Promise<Collector>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for the target to accept')), WAIT_MS)
        pending.push((c) => {
          clearTimeout(timer)
          resolve(c)
        })
      })
    }
  }
}

async function startProxy(target: Target | number, extra: Partial<FaultProxyOptions> = {}): Promise<FaultProxy> {
  const port = typeof target === 'number' ? target : target.port
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port }, ...extra })
  cleanups.push(() => proxy.close())
  return proxy
}

async function dial(proxy: FaultProxy): Promise<Collector> {
  const socket = connect({ host: proxy.host, port: proxy.port, allowHalfOpen: true })
  const collector = new Collector(socket)
  cleanups.push(() => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timed out')), WAIT_MS)
    socket.once('connect', () => {
      clearTimeout(timer)
      resolve()
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
  return collector
}

function upgradeRequest(nodeId: string | null, region = 'eu'): string {
  return [
    'GET /_meridian/mesh HTTP/1.1',
    'Host: 127.0.0.1',
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...(nodeId === null ? [] : [`X-Meridian-Node-Id: ${nodeId}`, `x-meridian-region: ${region}`]),
    '',
    ''
  ].join('\r\n')
}

/** Dial through the proxy as relay `nodeId` (or as an anonymous HTTP client) and wait until the target has the request. */
async function dialAs(proxy: FaultProxy, target: Target, nodeId: string | null): Promise<{ client: Collector; server: Collector; head: string }> {
  const client = await dial(proxy)
  const head = upgradeRequest(nodeId)
  client.socket.write(head)
  const server = await target.next()
  await server.waitForText(head)
  return { client, server, head }
}

// ---------------------------------------------------------------------------
// Fault proxy
// ---------------------------------------------------------------------------

describe('fault proxy', () => {
  it('passes bytes through both ways and counts them', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    expect(proxy.url).toBe(`ws://127.0.0.1:${proxy.port}`)

    const client = await dial(proxy)
    client.socket.write('hello')
    const server = await target.next()
    await server.waitForText('hello')
    server.socket.write('world!')
    await client.waitForText('world!')

    expect(proxy.connections).toEqual([{ id: 1, peer: null, region: null, bytesToTarget: 5, bytesFromTarget: 6 }])
    expect(proxy.stats).toMatchObject({ accepted: 1, bytesToTarget: 5, bytesFromTarget: 6, droppedBytes: 0 })
  })

  it('identifies the dialer from x-meridian-node-id and forwards the request unchanged', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)

    // Relay: head split across writes mid-header, with protocol bytes right after the head.
    const relay = await dial(proxy)
    const head = upgradeRequest('eu-1')
    const sent = head + 'first-frame'
    relay.socket.write(sent.slice(0, 10))
    const relayServer = await target.next()
    relay.socket.write(sent.slice(10, 100))
    relay.socket.write(sent.slice(100))
    await relayServer.waitForText(sent)

    // HTTP client without the header, and a non-HTTP client.
    const { server: anonServer } = await dialAs(proxy, target, null)
    const raw = await dial(proxy)
    raw.socket.write('\x00\x01binary')
    const rawServer = await target.next()
    await rawServer.waitForText('\x00\x01binary')
    expect(anonServer.text).toBe(upgradeRequest(null))

    expect(proxy.connections.map((c) => [c.peer, c.region])).toEqual([
      ['eu-1', 'eu'],
      [null, null],
      [null, null]
    ])
  })

  it('does not hold back a target that speaks first, nor an oversized head', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)

    const quiet = await dial(proxy)
    const quietServer = await target.next()
    quietServer.socket.write('220 greetings\r\n')
    await quiet.waitForText('220 greetings\r\n')

    // Looks like HTTP but no CRLFCRLF within 16 KiB: forwarded as is, unidentified.
    const big = await dial(proxy)
    const junk = 'GET /' + 'a'.repeat(17 * 1024)
    big.socket.write(junk)
    const bigServer = await target.next()
    await bigServer.waitForText(junk)
    expect(proxy.connections.map((c) => c.peer)).toEqual([null, null])
  })

  it("partition 'both' blackholes an existing connection; heal restores new bytes on the same connection", async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    const { client, server, head } = await dialAs(proxy, target, 'eu-1')

    proxy.partition('eu-1')
    client.socket.write('lost-a')
    server.socket.write('lost-b')
    await until(() => proxy.stats.droppedBytes === 12, '12 dropped bytes')
    await Promise.all([client.expectNothingNew(), server.expectNothingNew()])
    expect(client.closed || server.closed).toBe(false) // sockets stay open, like a real partition

    proxy.heal('eu-1')
    client.socket.write('after')
    server.socket.write('back')
    await server.waitForText(head + 'after') // dropped bytes are gone for good
    await client.waitForText('back')
    expect(proxy.stats.droppedBytes).toBe(12)
    expect(proxy.connections[0]).toMatchObject({ peer: 'eu-1', bytesToTarget: head.length + 5, bytesFromTarget: 4 })
  })

  it.each<[PartitionDirection, boolean, boolean]>([
    ['to-target', true, false],
    ['from-target', false, true]
  ])("partition '%s' drops only that direction", async (direction, dropsToTarget, dropsFromTarget) => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    const { client, server, head } = await dialAs(proxy, target, 'eu-1')

    proxy.partition('eu-1', direction)
    client.socket.write('up-1')
    server.socket.write('down-1')
    const dropped = (dropsToTarget ? 4 : 0) + (dropsFromTarget ? 6 : 0)
    await until(() => proxy.stats.droppedBytes === dropped, `${dropped} dropped bytes`)
    if (dropsToTarget) await client.waitForText('down-1')
    else await server.waitForText(head + 'up-1')
    // The blocked direction: its bytes were counted as dropped, so they can never arrive.
    if (dropsToTarget) expect(server.text).toBe(head)
    else expect(client.text).toBe('')

    proxy.heal()
    client.socket.write('up-2')
    server.socket.write('down-2')
    await server.waitForText(head + (dropsToTarget ? '' : 'up-1') + 'up-2')
    await client.waitForText((dropsFromTarget ? '' : 'down-1') + 'down-2')
  })

  it("matches rules to the dialer; '*' matches everyone including unidentified connections", async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    const eu = await dialAs(proxy, target, 'eu-1')
    const us = await dialAs(proxy, target, 'us-1')
    const anon = await dialAs(proxy, target, null)

    proxy.partition('eu-1')
    for (const c of [eu, us, anon]) c.client.socket.write('x')
    await us.server.waitForText(us.head + 'x')
    await anon.server.waitForText(anon.head + 'x')
    await until(() => proxy.stats.droppedBytes === 1, 'eu-1 byte dropped')
    expect(eu.server.text).toBe(eu.head)

    proxy.heal('eu-1')
    proxy.partition('*')
    for (const c of [eu, us, anon]) c.client.socket.write('y')
    await until(() => proxy.stats.droppedBytes === 4, 'every byte dropped')
    expect([eu, us, anon].map((c) => c.server.text)).toEqual([eu.head, us.head + 'x', anon.head + 'x'])

    proxy.heal()
    for (const c of [eu, us, anon]) c.client.socket.write('z')
    await eu.server.waitForText(eu.head + 'z')
    await us.server.waitForText(us.head + 'xz')
    await anon.server.waitForText(anon.head + 'xz')
  })

  it('accepts new connections from a partitioned peer but blackholes their bytes', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    proxy.partition('eu-1')

    const client = await dial(proxy) // TCP accept succeeds
    const head = upgradeRequest('eu-1')
    client.socket.write(head)
    const server = await target.next()
    await until(() => proxy.stats.droppedBytes === head.length, 'request head dropped')
    expect(proxy.connections[0]?.peer).toBe('eu-1')
    server.socket.write('HTTP/1.1 101 Switching Protocols\r\n\r\n')
    await until(() => proxy.stats.droppedBytes > head.length, 'response dropped')
    expect(server.text).toBe('')
    expect(client.text).toBe('')

    proxy.heal()
    client.socket.write('ping')
    await server.waitForText('ping')
  })

  it('holds an end of stream (FIN) in a partitioned direction until heal', async () => {
    const target = await startTarget('sink')
    const proxy = await startProxy(target)
    const { client, server } = await dialAs(proxy, target, 'eu-1')

    proxy.partition('eu-1', 'to-target')
    client.socket.end()
    await server.expectNothingNew() // bounded window: the FIN must not get through
    proxy.heal()
    await server.waitFor((c) => c.ended, 'end at the target after heal')
  })

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

// ---------------------------------------------------------------------------
// Partition plan
// ---------------------------------------------------------------------------

describe('partition plan', () => {
  it('maps full and one-way partitions onto the two proxies', () => {
    const calls: string[] = []
    const fake = (node: string): FaultProxy =>
      ({
        partition: (peer: string, direction: PartitionDirection = 'both') => calls.push(`${node}.partition(${peer},${direction})`),
        heal: (peer?: string) => calls.push(`${node}.heal(${peer ?? ''})`)
      }) as unknown as FaultProxy
    const proxies = new Map([['A', fake('A')], ['B', fake('B')], ['C', fake('C')]])

    partitionPair(proxies, 'A', 'B')
    expect(calls.splice(0)).toEqual(['B.partition(A,both)', 'A.partition(B,both)'])
    partitionPair(proxies, 'A', 'B', { oneWay: true })
    expect(calls.splice(0)).toEqual(['B.partition(A,from-target)', 'A.partition(B,to-target)'])
    healPair(proxies, 'A', 'B')
    expect(calls.splice(0)).toEqual(['B.heal(A)', 'A.heal(B)'])
    isolate(proxies, 'C')
    expect(calls.splice(0)).toEqual(['A.partition(C,both)', 'C.partition(A,both)', 'B.partition(C,both)', 'C.partition(B,both)'])
    healAll(proxies)
    expect(calls.splice(0)).toEqual(['A.heal()', 'B.heal()', 'C.heal()'])
    expect(() => partitionPair(proxies, 'A', 'Z')).toThrow(/no fault proxy for node Z/)
  })

  it("one-way: A's bytes reach B but B's do not reach A, on links dialed by either side", async () => {
    const relayA = await startTarget('sink')
    const relayB = await startTarget('sink')
    const proxies = new Map([
      ['A', await startProxy(relayA)],
      ['B', await startProxy(relayB)]
    ])
    // A dials B (through B's proxy) and B dials A (through A's proxy).
    const aDialsB = await dialAs(proxies.get('B')!, relayB, 'A') // client side = A, server side = B
    const bDialsA = await dialAs(proxies.get('A')!, relayA, 'B') // client side = B, server side = A

    partitionPair(proxies, 'A', 'B', { oneWay: true })
    aDialsB.client.socket.write('A>B') // A -> B: flows
    aDialsB.server.socket.write('B>A') // B -> A: dropped
    bDialsA.client.socket.write('B>A') // B -> A: dropped
    bDialsA.server.socket.write('A>B') // A -> B: flows
    await aDialsB.server.waitForText(aDialsB.head + 'A>B')
    await bDialsA.client.waitForText('A>B')
    await until(() => proxies.get('A')!.stats.droppedBytes === 3 && proxies.get('B')!.stats.droppedBytes === 3, 'B -> A bytes dropped on both links')
    expect(aDialsB.client.text).toBe('')
    expect(bDialsA.server.text).toBe(bDialsA.head)

    healPair(proxies, 'A', 'B')
    partitionPair(proxies, 'A', 'B')
    aDialsB.client.socket.write('1')
    aDialsB.server.socket.write('2')
    bDialsA.client.socket.write('3')
    bDialsA.server.socket.write('4')
    await until(() => proxies.get('A')!.stats.droppedBytes === 5 && proxies.get('B')!.stats.droppedBytes === 5, 'everything dropped')

    healAll(proxies)
    aDialsB.server.socket.write('B>A again')
    bDialsA.client.socket.write('B>A again')
    await aDialsB.client.waitForText('B>A again')
    await bDialsA.server.waitForText(bDialsA.head + 'B>A again')
  })
})
