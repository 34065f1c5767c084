/**
 * TCP connections whose HTTP request (a WebSocket upgrade, usually) has not
 * arrived whole yet. Until its headers are complete a connection is nobody's:
 * the document sockets' per-IP cap cannot see it, so a client sending headers
 * slowly (slowloris) could hold any number of them. Here they are capped like
 * open connections (per address, unless the relay sits behind a trusted
 * proxy, whose one address all clients share; and in total), and destroyed if
 * their headers take longer than `headerTimeoutMs`. They are counted apart
 * from open connections, so a client over the open-connection cap still
 * completes its upgrade and is told why (1013).
 */
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Clock } from '@meridian/base'
import { Deadlines, type Scheduled } from './deadlines.js'

export interface PendingConnectionsOptions {
  maxConnections: number
  maxConnectionsPerIp: number
  headerTimeoutMs: number
  /** False behind a trusted proxy: the TCP address is the proxy's, so only the total is capped. */
  perIp: boolean
  clock: Clock
  /** A connection was destroyed (over a cap, or headers too slow). */
  onRefused?: (reason: 'too_many_connections' | 'too_many_per_ip' | 'header_timeout') => void
}

/** A connection still sending its headers, with its header deadline (deadlines.ts). */
interface Pending extends Scheduled {
  readonly socket: Socket
  readonly ip: string
}

export class PendingConnections {
  private readonly pending = new Map<Socket, Pending>()
  /** Header deadlines: one timer for every pending connection, not a Timeout and closure each. */
  private readonly deadlines: Deadlines<Pending>
  private readonly perIp = new Map<string, number>()
  /**
   * One close listener for every pending socket, removed once it settles: a
   * `once` closure per socket would stay on it (about 500 bytes) for the whole
   * life of the connection.
   */
  private readonly onPendingClose: (this: Socket) => void

  constructor(private readonly o: PendingConnectionsOptions) {
    const pending = this
    this.onPendingClose = function (this: Socket): void {
      pending.settle(this)
    }
    this.deadlines = new Deadlines(o.clock, ({ socket }) => {
      this.settle(socket)
      this.o.onRefused?.('header_timeout')
      socket.destroy()
    })
  }

  get size(): number {
    return this.pending.size
  }

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.opened(socket))
    // Headers complete: from here the request (or the upgraded socket) is counted where it goes.
    server.prependListener('request', (req: { socket: Socket }) => this.settle(req.socket))
    server.prependListener('upgrade', (req: { socket: Socket }) => this.settle(req.socket))
  }

  private opened(socket: Socket): void {
    const { maxConnections, maxConnectionsPerIp, perIp } = this.o
    const ip = socket.remoteAddress ?? ''
    let refused: 'too_many_connections' | 'too_many_per_ip' | null = null
    if (this.pending.size >= maxConnections) refused = 'too_many_connections'
    else if (perIp && (this.perIp.get(ip) ?? 0) >= maxConnectionsPerIp) refused = 'too_many_per_ip'
    if (refused !== null) {
      this.o.onRefused?.(refused)
      socket.destroy()
      return
    }
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1)
    const entry: Pending = { socket, ip, deadlineIndex: -1, deadlineAt: 0 }
    this.pending.set(socket, entry)
    this.deadlines.set(entry, this.o.clock.now() + this.o.headerTimeoutMs)
    socket.on('close', this.onPendingClose)
  }

  private settle(socket: Socket): void {
    const entry = this.pending.get(socket)
    if (entry === undefined) return
    this.deadlines.delete(entry)
    this.pending.delete(socket)
    socket.off('close', this.onPendingClose)
    const n = this.perIp.get(entry.ip) ?? 0
    if (n <= 1) this.perIp.delete(entry.ip)
    else this.perIp.set(entry.ip, n - 1)
  }
}
