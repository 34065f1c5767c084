/**
 * Helpers of the fault proxy's tests (loopback only, ephemeral ports, every
 * wait bounded). Importing this registers the cleanup of what a test started.
 */
import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { afterEach, expect } from 'vitest'
import { startFaultProxy } from './fault-proxy.js'
import type { FaultProxy, FaultProxyOptions } from './fault-proxy.js'


// ---------------------------------------------------------------------------
// Helpers (loopback only, ephemeral ports, every wait bounded)
// ---------------------------------------------------------------------------

export const WAIT_MS = 2000
/**
 * Where a test must show that something does NOT arrive, it watches for this
 * bounded window: far longer than a loopback hop, short enough to keep the file fast.
 */
export const SILENCE_MS = 100

export const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

/** Collects everything a socket emits; `waitFor` resolves on the event that satisfies the predicate. */
export class Collector {
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
export async function until(predicate: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

export interface Target {
  port: number
  /** Next accepted connection (bounded wait). */
  next(): Promise<Collector>
  server: Server
}

/** A TCP server standing in for a relay: 'echo' pipes every connection back to itself, 'sink' just collects. */
export async function startTarget(mode: 'echo' | 'sink', onAccept?: (socket: Socket) => void): Promise<Target> {
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

export async function startProxy(target: Target | number, extra: Partial<FaultProxyOptions> = {}): Promise<FaultProxy> {
  const port = typeof target === 'number' ? target : target.port
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port }, ...extra })
  cleanups.push(() => proxy.close())
  return proxy
}

export async function dial(proxy: FaultProxy): Promise<Collector> {
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

export function upgradeRequest(nodeId: string | null, region = 'eu'): string {
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
export async function dialAs(proxy: FaultProxy, target: Target, nodeId: string | null): Promise<{ client: Collector; server: Collector; head: string }> {
  const client = await dial(proxy)
  const head = upgradeRequest(nodeId)
  client.socket.write(head)
  const server = await target.next()
  await server.waitForText(head)
  return { client, server, head }
}
