import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { performance } from 'node:perf_hooks'

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

export type PartitionDirection = 'both' | 'to-target' | 'from-target'

export interface FaultProxyOptions {
  target: { host: string; port: number }
  listen?: { host?: string /* default 127.0.0.1 */; port?: number /* default 0 */ }
  name?: string
  /**
   * A connection whose first bytes look like an HTTP request line is held
   * (nothing forwarded either way) until its request head is complete. If the
   * head is not complete this long after its first byte, the connection is
   * treated as unidentified (`peer: null`) and forwarding starts. Default 2000 ms.
   */
  identifyTimeoutMs?: number
}

export interface FaultProxyConnection {
  id: number
  /** `x-meridian-node-id` of the dialer, or null (no header / not HTTP / not yet identified). */
  peer: string | null
  /** `x-meridian-region` of the dialer, or null. */
  region: string | null
  /** Bytes written to the target on this connection (blackholed bytes not included). */
  bytesToTarget: number
  /** Bytes written back to the dialer on this connection (blackholed bytes not included). */
  bytesFromTarget: number
}

export interface FaultProxyStats {
  /** TCP connections accepted since start. */
  accepted: number
  /** Bytes written to the target (all connections, blackholed bytes not included). */
  bytesToTarget: number
  /** Bytes written back to dialers (all connections, blackholed bytes not included). */
  bytesFromTarget: number
  /** Bytes discarded by partition rules. */
  droppedBytes: number
  /** Times a source socket was paused because its destination (or the latency queue) was full. */
  backpressurePauses: number
  /**
   * Largest amount of data ever held by the proxy for one direction of one
   * connection (latency queue + destination socket's write buffer), in bytes.
   * Stays small (around a socket high-water mark plus one chunk) when
   * backpressure works.
   */
  maxBufferedBytes: number
}

export interface FaultProxy {
  readonly name: string
  readonly port: number
  readonly host: string
  /** `ws://host:port` */
  readonly url: string
  /**
   * Cut traffic between this proxy's target and the dialer `peer` (a node id,
   * or '*' for every dialer including unidentified ones).
   * - 'both' (default): drop everything;
   * - 'to-target': drop only bytes flowing from the dialer to the target;
   * - 'from-target': drop only bytes flowing from the target to the dialer.
   * Rules for the same peer accumulate ('to-target' then 'from-target' = 'both').
   * Applies immediately to existing connections (bytes are silently discarded,
   * sockets stay open) and to new ones (accepted, then blackholed). Rules are
   * checked when a chunk is delivered, so chunks still waiting out a latency
   * delay when the partition starts are dropped too. An end of
   * stream (FIN) in a blocked direction is held, not dropped, and delivered
   * after `heal` — like TCP retransmitting its FIN.
   */
  partition(peer: string, direction?: PartitionDirection): void
  /** Remove the rules for `peer` (exact key: heal('*') removes only the '*' rule), or every rule. New bytes flow again on existing connections. */
  heal(peer?: string): void
  /**
   * Delay every chunk by `ms` in both directions, preserving order. With a
   * `peer`, applies only to that dialer's connections (and takes precedence
   * over the proxy-wide value); without, proxy-wide. `0` removes the setting
   * — `setLatency(0)` without a peer removes every latency setting. Chunks
   * already queued keep their scheduled time (and order).
   */
  setLatency(ms: number, peer?: string): void
  /** Abort the connections dialed by `peer` (all of them for no peer or '*'): both sockets are reset (RST) and destroyed. */
  resetConnections(peer?: string): void
  readonly connections: ReadonlyArray<FaultProxyConnection>
  readonly stats: FaultProxyStats
  /** Close the listener and destroy every connection. Idempotent; resolves even with open connections. */
  close(): Promise<void>
}

const MAX_HEAD_BYTES = 16 * 1024
/** Pause the source once this much is waiting in a latency queue. */
const QUEUE_HIGH_WATER = 1024 * 1024
const NODE_ID_HEADER = 'x-meridian-node-id'
const REGION_HEADER = 'x-meridian-region'

type Direction = 'to-target' | 'from-target'

interface ProxyState {
  readonly stats: FaultProxyStats
  isBlocked(peer: string | null, direction: Direction): boolean
  latencyFor(peer: string | null): number
  forget(conn: Conn): void
}

/** Could `buf` be the start of an HTTP request line (`METHOD SP ...`)? */
function mayBeHttpRequest(buf: Buffer): boolean {
  const n = Math.min(buf.length, 21)
  for (let i = 0; i < n; i++) {
    const b = buf[i]!
    if (b === 0x20) return i > 0
    if (b < 0x41 || b > 0x5a) return false // methods are upper-case tokens
  }
  return buf.length < 21
}

/** Extract the dialer identity from a request head (without the final CRLFCRLF). */
export function parseDialerIdentity(head: Buffer): { peer: string | null; region: string | null } {
  let peer: string | null = null
  let region: string | null = null
  const lines = head.toString('latin1').split('\r\n')
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (value === '') continue
    if (name === NODE_ID_HEADER && peer === null) peer = value
    else if (name === REGION_HEADER && region === null) region = value
  }
  return { peer, region }
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

interface QueueItem {
  /** null = end of stream */
  chunk: Buffer | null
  due: number
}

/** One direction of one connection: an order-preserving, delaying, filtering pump. */
class Pipe {
  private readonly queue: QueueItem[] = []
  private queuedBytes = 0
  private timer: NodeJS.Timeout | undefined
  private waitingDrain = false
  private sourcePaused = false
  private ended = false
  private closed = false
  /** While true, nothing is delivered (connection not identified yet). */
  held: boolean

  constructor(
    private readonly proxy: ProxyState,
    private readonly conn: Conn,
    private readonly direction: Direction,
    private readonly src: Socket,
    private readonly dst: Socket,
    held: boolean
  ) {
    this.held = held
  }

  push(chunk: Buffer | null): void {
    if (this.closed || this.ended) return
    if (chunk === null) this.ended = true
    else this.queuedBytes += chunk.length
    this.queue.push({ chunk, due: performance.now() + this.proxy.latencyFor(this.conn.peer) })
    this.pump()
  }

  onDrain(): void {
    if (!this.waitingDrain) return
    this.waitingDrain = false
    this.pump()
  }

  pump(): void {
    if (this.closed) return
    if (!this.held && !this.waitingDrain) this.deliver()
    this.updateSourceFlow()
  }

  close(): void {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.queue.length = 0
    this.queuedBytes = 0
  }

  private deliver(): void {
    const { stats } = this.proxy
    while (this.queue.length > 0) {
      const item = this.queue[0]!
      const wait = item.due - performance.now()
      if (wait > 0) {
        this.arm(wait)
        return
      }
      const blocked = this.proxy.isBlocked(this.conn.peer, this.direction)
      if (item.chunk === null) {
        if (blocked) return // hold the FIN until heal
        this.queue.shift()
        if (!this.dst.destroyed && !this.dst.writableEnded) this.dst.end()
        continue
      }
      const chunk = item.chunk
      this.queue.shift()
      this.queuedBytes -= chunk.length
      if (blocked) {
        stats.droppedBytes += chunk.length
        continue
      }
      if (this.dst.destroyed || this.dst.writableEnded) continue // peer gone; connection is being torn down
      const ok = this.dst.write(chunk)
      if (this.direction === 'to-target') {
        this.conn.bytesToTarget += chunk.length
        stats.bytesToTarget += chunk.length
      } else {
        this.conn.bytesFromTarget += chunk.length
        stats.bytesFromTarget += chunk.length
      }
      const buffered = this.queuedBytes + this.dst.writableLength
      if (buffered > stats.maxBufferedBytes) stats.maxBufferedBytes = buffered
      if (!ok) {
        this.waitingDrain = true
        return
      }
    }
  }

  private arm(wait: number): void {
    if (this.timer !== undefined) return // already armed for the head (or earlier)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.pump()
    }, Math.max(1, Math.ceil(wait)))
  }

  private updateSourceFlow(): void {
    const shouldPause = !this.closed && (this.waitingDrain || this.queuedBytes >= QUEUE_HIGH_WATER)
    if (shouldPause && !this.sourcePaused) {
      this.sourcePaused = true
      this.proxy.stats.backpressurePauses++
      this.src.pause()
    } else if (!shouldPause && this.sourcePaused) {
      this.sourcePaused = false
      if (!this.src.destroyed) this.src.resume()
    }
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
