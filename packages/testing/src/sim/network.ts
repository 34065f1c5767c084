import type { RelaySocket, UpgradeInfo } from '@meridian/relay'
import { createPrng } from '../prng.js'
import type { Scheduler } from './scheduler.js'
import { CLOSED, CONNECTING, OPEN, SimBrowserSocket, SimRelaySocket, type Frame, type SimEnd } from './sockets.js'

export type NodeKind = 'relay' | 'client'

/** Accepts a connection's server end (a relay's `acceptSocket`). */
export type Acceptor = (socket: RelaySocket, upgrade: UpgradeInfo) => Promise<void>

interface SimNode {
  id: string
  kind: NodeKind
  /** Relays: what accepts connections; null while crashed. */
  acceptor: Acceptor | null
}

type Dir = 'ab' | 'ba'

/** One connection: `a` dialed `b`. Each direction is a FIFO with its own latency. */
interface SimConnection {
  id: number
  a: string
  b: string
  endA: SimEnd
  endB: SimEnd | null
  /** Bytes were lost to a partition: the stream is broken, reset at heal. */
  damaged: boolean
  lastAtMs: Record<Dir, number>
  /** Close and reset frames wait out a partition (like TCP retransmitting a FIN). */
  held: Record<Dir, Frame[]>
}

export interface TrafficCounters {
  messages: number
  bytes: number
  dropped: number
  byKind: Record<string, { messages: number; bytes: number }>
}

export interface SimNetworkOptions {
  seed: number
  /** One-way latency drawn uniformly from [min, max] simulated ms per frame (order kept per direction). */
  latencyMs: readonly [number, number]
  /** Keep every delivered frame as a trace line (determinism checks). */
  trace?: boolean
}

/** FNV-1a over bytes: a cheap fingerprint of a frame for the trace. */
function fnv(bytes: Uint8Array): string {
  let h = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193)
  return (h >>> 0).toString(16)
}

/**
 * A network of relays and clients with no sockets: frames are events on the
 * scheduler. Partitions are per ordered pair of nodes: frames in a cut
 * direction are dropped (the connection then counts as broken and is reset
 * when healed, as a TCP stream that lost bytes would be); close frames wait
 * for the heal. Connecting across a cut (either way) is refused at once.
 */
export class SimNetwork {
  readonly counters: TrafficCounters = { messages: 0, bytes: 0, dropped: 0, byKind: {} }
  readonly trace: string[] = []
  private traceHash = 0x811c9dc5
  private readonly nodes = new Map<string, SimNode>()
  private readonly hosts = new Map<string, string>()
  private readonly connections = new Set<SimConnection>()
  private readonly blocked = new Set<string>()
  private readonly rand: () => number
  private nextId = 1
  /** When set, drops data frames it returns true for (a deliberately broken transport, for testing the kit). */
  dropFilter: ((from: string, to: string, bytes: Uint8Array) => boolean) | null = null

  constructor(private readonly scheduler: Scheduler, private readonly options: SimNetworkOptions) {
    this.rand = createPrng(options.seed)
  }

  /** A hash of every frame delivered so far, in order: equal for equal runs. */
  get traceDigest(): string {
    return (this.traceHash >>> 0).toString(16)
  }

  addNode(id: string, kind: NodeKind, host: string | null, acceptor: Acceptor | null = null): void {
    this.nodes.set(id, { id, kind, acceptor })
    if (host !== null) this.hosts.set(host, id)
  }

  setAcceptor(id: string, acceptor: Acceptor | null): void {
    const node = this.nodes.get(id)
    if (node !== undefined) node.acceptor = acceptor
  }

  /** Cuts `from` → `to`. */
  block(from: string, to: string): void {
    this.blocked.add(`${from}\0${to}`)
  }

  isBlocked(from: string, to: string): boolean {
    return this.blocked.has(`${from}\0${to}`)
  }

  /** Removes the cuts between `x` and `y` (or all), then resets the connections that lost frames and releases held closes. */
  heal(x?: string, y?: string): void {
    if (x === undefined || y === undefined) this.blocked.clear()
    else {
      this.blocked.delete(`${x}\0${y}`)
      this.blocked.delete(`${y}\0${x}`)
    }
    for (const c of [...this.connections]) {
      if (this.isBlocked(c.a, c.b) || this.isBlocked(c.b, c.a)) continue
      if (c.damaged) {
        c.damaged = false
        c.held.ab.length = 0
        c.held.ba.length = 0
        this.scheduler.schedule(0, () => {
          c.endA.finish(1006, '')
          c.endB?.finish(1006, '')
          this.connections.delete(c)
        })
        continue
      }
      for (const dir of ['ab', 'ba'] as const) {
        for (const frame of c.held[dir].splice(0)) this.scheduler.schedule(0, () => this.deliver(c, dir, frame))
      }
    }
  }

  /** A browser-style socket for client `from` (the SDK's WebSocket). */
  browserSocket(from: string, url: string): SimBrowserSocket {
    const end = new SimBrowserSocket()
    this.dial(from, url, {}, end)
    return end
  }

  /** A ws-style socket for relay `from` dialing another relay (mesh links). */
  relaySocket(from: string, url: string, headers: Record<string, string>): SimRelaySocket {
    const end = new SimRelaySocket(CONNECTING)
    this.dial(from, url, headers, end)
    return end
  }

  /** Every connection of `id` ends at once on its side; the other side learns by a reset (held while cut off). */
  crash(id: string): void {
    for (const c of [...this.connections]) {
      if (c.a !== id && c.b !== id) continue
      const mine = c.a === id ? c.endA : c.endB
      const dir: Dir = c.a === id ? 'ab' : 'ba'
      // Silently: the crashed process's code must not hear about it.
      if (mine !== null) mine.readyState = CLOSED
      this.transmit(c, dir, { kind: 'reset' })
    }
  }

  private dial(from: string, url: string, headers: Record<string, string>, end: SimEnd): void {
    const parsed = new URL(url)
    const to = this.hosts.get(parsed.host) ?? null
    const c: SimConnection = { id: this.nextId++, a: from, b: to ?? parsed.host, endA: end, endB: null, damaged: false, lastAtMs: { ab: 0, ba: 0 }, held: { ab: [], ba: [] } }
    end.wire = this.wireFor(c, 'ab')
    this.connections.add(c)
    this.scheduler.schedule(this.latency(), () => {
      const node = to === null ? undefined : this.nodes.get(to)
      const refused = node?.acceptor == null || this.isBlocked(from, c.b) || this.isBlocked(c.b, from) || end.readyState !== CONNECTING
      if (refused) {
        this.connections.delete(c)
        this.record(c.b, from, 'refused', null)
        if (end.readyState === CONNECTING) this.scheduler.schedule(this.latency(), () => end.fail())
        return
      }
      const server = new SimRelaySocket(OPEN)
      server.wire = this.wireFor(c, 'ba')
      c.endB = server
      // The upgrade response travels first, so it precedes whatever the relay sends.
      this.transmit(c, 'ba', { kind: 'open' })
      const upgrade = { url: parsed.pathname + parsed.search, headers, ip: from }
      void (node.acceptor as Acceptor)(server, upgrade).catch(() => server.close(1011, 'accept failed'))
    })
  }

  private wireFor(c: SimConnection, dir: Dir): { transmit: (f: Frame) => void; later: (fn: () => void) => void } {
    return {
      transmit: (frame) => this.transmit(c, dir, frame),
      later: (fn) => this.scheduler.schedule(this.latency(), fn)
    }
  }

  private latency(): number {
    const [min, max] = this.options.latencyMs
    return min + Math.floor(this.rand() * (max - min + 1))
  }

  private transmit(c: SimConnection, dir: Dir, frame: Frame): void {
    // FIFO per direction: never before the previous frame.
    const at = Math.max(this.scheduler.now() + this.latency(), c.lastAtMs[dir])
    c.lastAtMs[dir] = at
    this.scheduler.schedule(at - this.scheduler.now(), () => this.deliver(c, dir, frame))
  }

  private deliver(c: SimConnection, dir: Dir, frame: Frame): void {
    const from = dir === 'ab' ? c.a : c.b
    const to = dir === 'ab' ? c.b : c.a
    const end = dir === 'ab' ? c.endB : c.endA
    if (end === null) return
    if (this.isBlocked(from, to)) {
      if (frame.kind === 'close' || frame.kind === 'reset') c.held[dir].push(frame)
      else {
        c.damaged = true
        this.counters.dropped++
        this.record(from, to, `lost-${frame.kind}`, frame.kind === 'data' ? frame.bytes : null)
      }
      return
    }
    if (frame.kind === 'data' && this.dropFilter?.(from, to, frame.bytes) === true) {
      this.counters.dropped++
      this.record(from, to, 'filtered', frame.bytes)
      return
    }
    if (frame.kind === 'data') this.count(from, to, frame.bytes.byteLength)
    this.record(from, to, frame.kind, frame.kind === 'data' ? frame.bytes : null)
    end.receive(frame)
    if (end.readyState === CLOSED && (dir === 'ab' ? c.endA : c.endB)?.readyState === CLOSED) this.connections.delete(c)
  }

  private count(from: string, to: string, bytes: number): void {
    const kind = `${this.nodes.get(from)?.kind ?? 'relay'}->${this.nodes.get(to)?.kind ?? 'relay'}`
    this.counters.messages++
    this.counters.bytes += bytes
    const k = (this.counters.byKind[kind] ??= { messages: 0, bytes: 0 })
    k.messages++
    k.bytes += bytes
  }

  private record(from: string, to: string, what: string, bytes: Uint8Array | null): void {
    if (this.options.trace === true) {
      this.trace.push(`${this.scheduler.elapsedMs} ${from}>${to} ${what}${bytes === null ? '' : ` ${bytes.byteLength} ${fnv(bytes)}`}`)
    }
    // The digest folds in the same facts without building a string per frame.
    let h = this.traceHash
    h = Math.imul(h ^ this.scheduler.elapsedMs, 0x01000193)
    for (const part of [from, to, what]) for (let i = 0; i < part.length; i++) h = Math.imul(h ^ part.charCodeAt(i), 0x01000193)
    if (bytes !== null) for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193)
    this.traceHash = h
  }
}
