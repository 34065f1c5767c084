import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import type { FaultProxy, FaultProxyOptions, FaultProxyStats } from './fault-proxy-types.js'
import { MAX_HEAD_BYTES, mayBeHttpRequest, parseDialerIdentity } from './dialer-identity.js'
import { Pipe, type Direction, type PipeProxy } from './fault-pipe.js'

export type { FaultProxy, FaultProxyConnection, FaultProxyOptions, FaultProxyStats, PartitionDirection } from './fault-proxy-types.js'
export { parseDialerIdentity } from './dialer-identity.js'

/**
 * A fault-injecting TCP proxy for chaos tests.
 *
 * One proxy sits in front of one relay (the relay advertises the proxy's
 * address). Every accepted connection is forwarded to `target`. The proxy
 * works out WHICH relay dialed a connection by peeking at the HTTP upgrade
 * request at the start of the stream (`x-meridian-node-id`,
 * `x-meridian-region`); the peeked bytes are then forwarded unchanged.
 * Connections without the header (clients, non-HTTP traffic) have peer `null`.
 *
 * Faults are applied per dialer:
 * - `partition` blackholes bytes (sockets stay open, like a real partition);
 * - `setLatency` delays every chunk, preserving order;
 * - `resetConnections` aborts connections (RST).
 *
 * Faults act on the byte stream above TCP: the proxy terminates TCP on both
 * sides, so "dropped" bytes are gone for good (no retransmission after a heal);
 * the application protocol above must notice and recover.
 */

interface ProxyState extends PipeProxy {
  forget(conn: Conn): void
}

/** Reset (RST) and destroy a socket; never throws. */
function abort(socket: Socket): void {
  if (socket.destroyed) return
  if (socket.connecting) {
    socket.destroy()
    return
  }
  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy()
  }
}

class Conn {
  peer: string | null = null
  region: string | null = null
  bytesToTarget = 0
  bytesFromTarget = 0
  private identified = false
  private peek: Buffer[] = []
  private peekLength = 0
  private identifyTimer: NodeJS.Timeout | undefined
  private closed = false
  private clientClosed = false
  private upstreamClosed = false
  private readonly toTarget: Pipe
  private readonly fromTarget: Pipe

  constructor(
    readonly id: number,
    private readonly proxy: ProxyState,
    private readonly client: Socket,
    private readonly upstream: Socket,
    private readonly identifyTimeoutMs: number
  ) {
    this.toTarget = new Pipe(proxy, this, 'to-target', client, upstream, false)
    // Nothing flows back to the dialer until we know who it is.
    this.fromTarget = new Pipe(proxy, this, 'from-target', upstream, client, true)

    client.setNoDelay(true)
    upstream.setNoDelay(true)

    client.on('data', (chunk: Buffer) => {
      if (this.identified) this.toTarget.push(chunk)
      else this.onPeekData(chunk)
    })
    client.on('end', () => {
      if (!this.identified) this.identify(null, null)
      this.toTarget.push(null)
    })
    upstream.on('data', (chunk: Buffer) => {
      // A target that speaks first on a connection where the dialer has said
      // nothing yet: that is not an HTTP upgrade, so stop waiting for one.
      if (!this.identified && this.peekLength === 0) this.identify(null, null)
      this.fromTarget.push(chunk)
    })
    upstream.on('end', () => this.fromTarget.push(null))

    client.on('drain', () => this.fromTarget.onDrain())
    upstream.on('drain', () => this.toTarget.onDrain())

    // An error on either side aborts the other side too (ECONNRESET, ECONNREFUSED, EPIPE...).
    client.on('error', () => this.teardown(true))
    upstream.on('error', () => this.teardown(true))
    client.on('close', () => this.onClose(client))
    upstream.on('close', () => this.onClose(upstream))
  }

  /** Re-run delivery (after rules changed, e.g. a heal releasing a held FIN). */
  kick(): void {
    this.toTarget.pump()
    this.fromTarget.pump()
  }

  teardown(reset: boolean): void {
    if (this.closed) return
    this.closed = true
    if (this.identifyTimer !== undefined) clearTimeout(this.identifyTimer)
    this.toTarget.close()
    this.fromTarget.close()
    if (reset) {
      abort(this.client)
      abort(this.upstream)
    } else {
      this.client.destroy()
      this.upstream.destroy()
    }
    this.proxy.forget(this)
  }

  private onClose(socket: Socket): void {
    if (socket === this.client) this.clientClosed = true
    else this.upstreamClosed = true
    if (this.closed) return
    // A graceful close (both halves ended in order) needs nothing: the other
    // socket closes by itself once the queued data and FIN reach it.
    if (socket.readableEnded && socket.writableFinished) {
      if (this.clientClosed && this.upstreamClosed) this.teardown(false)
      return
    }
    this.teardown(true)
  }

  private onPeekData(chunk: Buffer): void {
    if (this.peekLength === 0) {
      this.identifyTimer = setTimeout(() => {
        if (!this.identified) this.identify(null, null)
      }, this.identifyTimeoutMs)
      this.identifyTimer.unref()
    }
    this.peek.push(chunk)
    this.peekLength += chunk.length
    const buf = this.peek.length === 1 ? chunk : Buffer.concat(this.peek, this.peekLength)
    this.peek = [buf]
    if (!mayBeHttpRequest(buf)) {
      this.identify(null, null)
      return
    }
    const end = buf.indexOf('\r\n\r\n', 0, 'latin1')
    if (end !== -1 && end + 4 <= MAX_HEAD_BYTES) {
      const { peer, region } = parseDialerIdentity(buf.subarray(0, end))
      this.identify(peer, region)
    } else if (this.peekLength >= MAX_HEAD_BYTES) {
      this.identify(null, null)
    }
  }

  private identify(peer: string | null, region: string | null): void {
    if (this.identified || this.closed) return
    this.identified = true
    this.peer = peer
    this.region = region
    if (this.identifyTimer !== undefined) clearTimeout(this.identifyTimer)
    this.identifyTimer = undefined
    const buffered = this.peek.length === 1 ? this.peek[0]! : Buffer.concat(this.peek, this.peekLength)
    this.peek = []
    if (buffered.length > 0) this.toTarget.push(buffered)
    this.fromTarget.held = false
    this.fromTarget.pump()
  }
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const listenHost = options.listen?.host ?? '127.0.0.1'
  const listenPort = options.listen?.port ?? 0
  const identifyTimeoutMs = options.identifyTimeoutMs ?? 2000
  const name = options.name ?? `fault-proxy->${options.target.host}:${options.target.port}`

  /** peer ('*' = everyone) -> blocked directions */
  const rules = new Map<string, Set<Direction>>()
  /** peer ('*' = default) -> ms */
  const latencies = new Map<string, number>()
  const conns = new Map<number, Conn>()
  const stats: FaultProxyStats = {
    accepted: 0,
    bytesToTarget: 0,
    bytesFromTarget: 0,
    droppedBytes: 0,
    backpressurePauses: 0,
    maxBufferedBytes: 0
  }
  let nextId = 1
  let closing: Promise<void> | undefined

  const state: ProxyState = {
    stats,
    isBlocked(peer, direction) {
      if (rules.get('*')?.has(direction) === true) return true
      return peer !== null && rules.get(peer)?.has(direction) === true
    },
    latencyFor(peer) {
      return (peer !== null ? latencies.get(peer) : undefined) ?? latencies.get('*') ?? 0
    },
    forget(conn) {
      conns.delete(conn.id)
    }
  }

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    if (closing !== undefined) {
      client.on('error', () => {})
      client.destroy()
      return
    }
    stats.accepted++
    const upstream = connect({ host: options.target.host, port: options.target.port, allowHalfOpen: true })
    const conn = new Conn(nextId++, state, client, upstream, identifyTimeoutMs)
    conns.set(conn.id, conn)
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(listenPort, listenHost, () => {
      server.off('error', reject)
      resolve()
    })
  })
  // Errors after listening (e.g. EMFILE on accept) must not crash the test process.
  server.on('error', () => {})

  const address = server.address() as AddressInfo
  const host = listenHost
  const port = address.port
  const url = `ws://${host.includes(':') ? `[${host}]` : host}:${port}`

  const matching = (peer: string | undefined): Conn[] =>
    [...conns.values()].filter((c) => peer === undefined || peer === '*' || c.peer === peer)

  return {
    name,
    host,
    port,
    url,
    partition(peer, direction = 'both') {
      if (direction !== 'both' && direction !== 'to-target' && direction !== 'from-target') {
        throw new RangeError(`partition: unknown direction ${String(direction)}`)
      }
      let set = rules.get(peer)
      if (set === undefined) rules.set(peer, (set = new Set()))
      if (direction === 'both' || direction === 'to-target') set.add('to-target')
      if (direction === 'both' || direction === 'from-target') set.add('from-target')
    },
    heal(peer) {
      if (peer === undefined) rules.clear()
      else rules.delete(peer)
      for (const conn of conns.values()) conn.kick()
    },
    setLatency(ms, peer) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`setLatency: invalid latency ${ms}`)
      if (ms === 0) {
        if (peer === undefined) latencies.clear()
        else latencies.delete(peer)
      } else {
        latencies.set(peer ?? '*', ms)
      }
    },
    resetConnections(peer) {
      for (const conn of matching(peer)) conn.teardown(true)
    },
    get connections() {
      return [...conns.values()].map((c) => ({
        id: c.id,
        peer: c.peer,
        region: c.region,
        bytesToTarget: c.bytesToTarget,
        bytesFromTarget: c.bytesFromTarget
      }))
    },
    get stats() {
      return { ...stats }
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const conn of [...conns.values()]) conn.teardown(false)
      })
      return closing
    }
  }
}
