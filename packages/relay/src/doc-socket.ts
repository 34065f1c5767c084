/**
 * All document sockets of a relay: the HTTP upgrade's checks (the token out
 * of the URL before anything logs it, Origin, a token in the URL or an
 * Authorization header verified before the socket exists), then one owner per
 * socket — a `Connection` for one document (connection.ts), a
 * `MuxConnection` for many on the multiplexing path (mux-connection.ts) —
 * the heartbeat over all of them, revocations and shutdown.
 */
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { RelaySocket, UpgradeInfo } from './transport.js'
import type { ClockTimer } from '@meridian/base'
import { MUX_PATH, type DecodeLimits } from '@meridian/protocol'
import { CLOSE_CODES, RelayError } from './errors.js'
import { Connection } from './connection.js'
import { MuxConnection } from './mux-connection.js'
import type { Admission, ConnectionHub, HubSocket } from './connection-hub.js'
import type { DocSessionDeps } from './session-host.js'
import type { RoomManager } from './rooms.js'
import type { ResolvedRelayOptions } from './options.js'
import { Authenticator, RevocationList, type Access, type VerifyResult } from './auth.js'
import { matchGlob } from './glob.js'
import { ConnectionLimiter, DocSizeGuard } from './limits.js'
import { Deadlines } from './deadlines.js'
import type { WireSocket } from './wire-budget.js'
import type { RelayMetrics } from './metrics.js'
import type { RelayGuarantees } from './guarantees.js'

export interface DocSocketsDeps {
  options: ResolvedRelayOptions
  logger: Logger
  rooms: RoomManager
  metrics: RelayMetrics
  /** Document modes, status reports and replication progress (guarantees.ts). */
  guarantees?: RelayGuarantees
}

/** All document sockets of a relay. */
export class DocSockets implements ConnectionHub {
  readonly revocations: RevocationList
  readonly authenticator: Authenticator | null
  readonly limiter: ConnectionLimiter
  readonly docSize: DocSizeGuard
  /** What a connection's decoder accepts (one object for every connection). */
  readonly decodeLimits: DecodeLimits
  readonly options: ResolvedRelayOptions
  readonly logger: Logger
  readonly metrics: RelayMetrics
  readonly sessionDeps: DocSessionDeps
  private readonly connections = new Set<HubSocket>()
  private readonly admissions = new WeakMap<IncomingMessage, Admission>()
  private readonly urlTokens = new WeakMap<IncomingMessage, string>()
  private heartbeat: ClockTimer | null = null
  /** Every socket's idle, token-expiry and pre-auth deadline, on one clock timer (see deadlines.ts). */
  readonly deadlines: Deadlines<HubSocket>

  constructor(deps: DocSocketsDeps) {
    const { options } = deps
    this.options = options
    this.logger = deps.logger
    this.metrics = deps.metrics
    this.revocations = new RevocationList(100_000, options.auth.mode === 'jwt' ? options.auth.clockToleranceMs : 0)
    this.authenticator = options.auth.mode === 'jwt' ? new Authenticator(options.auth, this.revocations) : null
    this.limiter = new ConnectionLimiter(options.maxConnections, options.maxConnectionsPerIp)
    this.docSize = new DocSizeGuard(options.maxDocumentBytes)
    this.decodeLimits = { maxMessageBytes: options.maxMessageBytes, maxStringBytes: 64 * 1024 }
    this.deadlines = new Deadlines<HubSocket>(options.clock, (connection) => connection.deadlinePassed())
    this.sessionDeps = {
      nodeId: options.nodeId,
      region: options.region,
      rooms: deps.rooms,
      metrics: deps.metrics,
      docSize: this.docSize,
      awarenessLimits: options.awarenessLimits,
      decodeLimits: this.decodeLimits,
      maxBufferedBytes: options.maxBufferedBytes,
      ...(deps.guarantees !== undefined ? { guarantees: deps.guarantees } : {})
    }
    if (options.pingIntervalMs > 0) {
      this.heartbeat = options.clock.setInterval(() => this.beat(), options.pingIntervalMs)
    }
  }

  /**
   * Takes `?token=` out of every request URL before anything can log it (the
   * URL is rewritten without it), keeping the value for the upgrade check.
   */
  registerHooks(app: FastifyInstance): void {
    app.addHook('onRequest', async (request) => {
      const raw = request.raw
      const { path, token } = splitToken(raw.url ?? '')
      if (token === null) return
      this.urlTokens.set(raw, token)
      raw.url = path
    })
  }

  /** The document route's preValidation hook: Origin and token checks in the upgrade, before any document is touched. */
  readonly preValidation = async (request: FastifyRequest): Promise<void> => {
    // A plain GET (no upgrade) is refused by the route anyway: no token is verified for it.
    if (headerValue(request.headers.upgrade)?.toLowerCase() !== 'websocket') return
    const token = this.urlTokens.get(request.raw) ?? null
    this.admissions.set(request.raw, await this.admission(request.headers, token))
  }

  /** The document route's handler. */
  accept(socket: RelaySocket, request: FastifyRequest): void {
    const admission = this.admissions.get(request.raw) ?? { originAllowed: true, verified: null }
    this.startSession(socket, request.ip, request.url, admission, request.raw.socket)
  }

  /**
   * A document socket from any transport (see Relay.acceptSocket): the same
   * checks as the HTTP upgrade, then the session. The socket must be open.
   */
  async acceptUpgrade(socket: RelaySocket, upgrade: UpgradeInfo): Promise<void> {
    const { path, token } = splitToken(upgrade.url)
    const admission = await this.admission(upgrade.headers, token)
    this.startSession(socket, upgrade.ip, path, admission)
  }

  private async admission(headers: UpgradeInfo['headers'], urlToken: string | null): Promise<Admission> {
    const origin = headerValue(headers.origin)
    const allowed = this.options.allowedOrigins
    const originAllowed = allowed.length === 0 || origin === undefined ||
      allowed.some((o) => matchGlob(o.glob, origin.toLowerCase()))
    let verified: VerifyResult | null = null
    if (originAllowed && this.authenticator !== null) {
      const token = urlToken ?? bearer(headerValue(headers.authorization))
      if (token !== null) {
        this.metrics.tokenVerifications.inc()
        verified = await this.authenticator.verify(token)
      }
    }
    return { originAllowed, verified }
  }

  /** `wire`: the TCP socket under `socket`, when there is one (its bytes count against the pre-auth budget). */
  private startSession(socket: RelaySocket, ip: string, url: string, admission: Admission, wire: WireSocket | null = null): void {
    const path = url.split('?', 1)[0]
    const connection = path === MUX_PATH ? new MuxConnection(this, socket, ip) : new Connection(this, socket, ip)
    this.connections.add(connection)
    connection.start(url, admission, wire)
  }

  /** The connection's socket closed. */
  ended(connection: HubSocket): void {
    this.connections.delete(connection)
  }

  /**
   * Revokes tokens by `jti` and/or `sub` (see RevocationList), closing every
   * live connection that uses one of them (4412). Returns how many were closed.
   */
  revoke(match: { jti?: string; sub?: string }, atMs?: number): number {
    this.revocations.revoke(match, atMs)
    let closed = 0
    for (const c of this.connections) {
      if (c.claims !== null && this.revocations.isRevoked(c.claims) &&
        c.end('revoked', { error: new RelayError('ERR_AUTH_REVOKED'), closeCode: CLOSE_CODES.TOKEN_REVOKED })) closed++
    }
    return closed
  }

  /**
   * Documents on sockets by access, for status: a single-document socket
   * counts its document, a multiplexed socket each of its documents (what
   * readers and writers there are, however they connect; the sockets
   * themselves are `open` in the status and `meridian_relay_connections`).
   */
  accessCounts(): Record<Access, number> {
    const counts: Record<Access, number> = { read: 0, write: 0 }
    for (const c of this.connections) c.countAccess(counts)
    return counts
  }

  stop(): void {
    if (this.heartbeat !== null) this.options.clock.clearInterval(this.heartbeat)
    this.heartbeat = null
    this.deadlines.stop()
    for (const c of this.connections) c.clearTimers()
  }

  /** Closes every open connection (1001): the relay is shutting down. */
  shutdown(): void {
    for (const c of [...this.connections]) if (c.isOpen) c.end('shutdown')
  }

  /** Pings every socket; terminates those that did not answer the previous ping (nor sent anything since). */
  private beat(): void {
    for (const c of this.connections) c.beat()
  }
}

/** The URL without its `token` query parameter, and that token. */
function splitToken(url: string): { path: string; token: string | null } {
  const q = url.indexOf('?')
  if (q < 0 || !url.includes('token=', q)) return { path: url, token: null }
  const params = new URLSearchParams(url.slice(q + 1))
  const token = params.get('token')
  if (token === null) return { path: url, token: null }
  params.delete('token')
  const rest = params.toString()
  return { path: url.slice(0, q) + (rest.length > 0 ? `?${rest}` : ''), token }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function bearer(header: string | undefined): string | null {
  if (header === undefined) return null
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1] ?? null
}
