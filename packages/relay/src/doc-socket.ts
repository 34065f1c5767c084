/**
 * The life of one document socket, from the HTTP upgrade to its close:
 * capacity and per-IP limits, document name, Origin allow-list, token checks
 * (in the upgrade when the token is in the URL or an Authorization header; in
 * a bounded pre-auth phase when it comes as the first auth message), the
 * bounded queue while the document loads, rate limits, idle timeout,
 * heartbeat, live expiry and revocation. Once admitted and loaded, a
 * `Connection` speaks the protocol.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { RawData } from 'ws'
import { SOCKET_CONNECTING, SOCKET_OPEN, type RelaySocket, type UpgradeInfo } from './transport.js'
import type { Clock, ClockTimer } from '@meridian/policy'
import { tryDecodeMessage, type DecodeLimits } from '@meridian/protocol'
import { CLOSE_CODES, RelayError, type RelayErrorCode } from './errors.js'
import { Connection } from './connection.js'
import type { RoomManager } from './rooms.js'
import type { Room } from './room.js'
import type { ResolvedRelayOptions } from './options.js'
import { parseDocName } from './doc-name.js'
import { Authenticator, RevocationList, accessFor, type Access, type TokenClaims, type VerifyResult } from './auth.js'
import { matchGlob } from './glob.js'
import { ConnectionLimiter, ConnectionRateLimiter, DocSizeGuard } from './limits.js'
import { Deadlines, type Scheduled } from './deadlines.js'
import { DEFAULT_CLOSE_GRACE_MS, closeThenTerminate, terminateAfterGrace } from './socket-close.js'
import { WireBudget, type WireSocket } from './wire-budget.js'
import type { CloseReason, RefuseReason, RejectReason, RelayMetrics } from './metrics.js'
import type { RelayGuarantees } from './guarantees.js'

/** Messages a socket may send while its document is still loading. */
const MAX_QUEUED_BEFORE_LOAD = 256

/** What the upgrade found out, before the socket exists. */
interface Admission {
  originAllowed: boolean
  /** The token's verification, when one came with the upgrade request. */
  verified: VerifyResult | null
}

const AUTH_FAILURES: Record<'ERR_AUTH_INVALID' | 'ERR_AUTH_EXPIRED' | 'ERR_AUTH_REVOKED', { close: number; reason: RefuseReason }> = {
  ERR_AUTH_INVALID: { close: CLOSE_CODES.UNAUTHENTICATED, reason: 'invalid_token' },
  ERR_AUTH_EXPIRED: { close: CLOSE_CODES.TOKEN_EXPIRED, reason: 'expired' },
  ERR_AUTH_REVOKED: { close: CLOSE_CODES.TOKEN_REVOKED, reason: 'revoked' }
}

const REFUSE_FOR: Partial<Record<CloseReason, RefuseReason>> = {
  revoked: 'revoked',
  expired: 'expired',
  idle: 'idle',
  rate_limited: 'rate_limited',
  shutdown: 'shutting_down'
}

export interface DocSocketsDeps {
  options: ResolvedRelayOptions
  logger: Logger
  rooms: RoomManager
  /** The relay's set of live connections (closed on shutdown). */
  connections: Set<Connection>
  metrics: RelayMetrics
  /** Document modes, status reports and replication progress (guarantees.ts). */
  guarantees?: RelayGuarantees
}

/** All document sockets of a relay. */
export class DocSockets {
  readonly revocations: RevocationList
  readonly authenticator: Authenticator | null
  readonly limiter: ConnectionLimiter
  readonly docSize: DocSizeGuard
  /** What a connection's decoder accepts (one object for every connection). */
  readonly decodeLimits: DecodeLimits
  private readonly d: DocSocketsDeps
  private readonly sessions = new Set<DocSession>()
  private readonly admissions = new WeakMap<IncomingMessage, Admission>()
  private readonly urlTokens = new WeakMap<IncomingMessage, string>()
  private heartbeat: ClockTimer | null = null
  /** Every session's idle, token-expiry and pre-auth deadline, on one clock timer (see deadlines.ts). */
  readonly deadlines: Deadlines<DocSession>

  constructor(deps: DocSocketsDeps) {
    this.d = deps
    const { options } = deps
    this.revocations = new RevocationList(100_000, options.auth.mode === 'jwt' ? options.auth.clockToleranceMs : 0)
    this.authenticator = options.auth.mode === 'jwt' ? new Authenticator(options.auth, this.revocations) : null
    this.limiter = new ConnectionLimiter(options.maxConnections, options.maxConnectionsPerIp)
    this.docSize = new DocSizeGuard(options.maxDocumentBytes)
    this.decodeLimits = { maxMessageBytes: options.maxMessageBytes, maxStringBytes: 64 * 1024 }
    this.deadlines = new Deadlines<DocSession>(options.clock, (session) => session.deadlinePassed())
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
    const allowed = this.d.options.allowedOrigins
    const originAllowed = allowed.length === 0 || origin === undefined ||
      allowed.some((o) => matchGlob(o.glob, origin.toLowerCase()))
    let verified: VerifyResult | null = null
    if (originAllowed && this.authenticator !== null) {
      const token = urlToken ?? bearer(headerValue(headers.authorization))
      if (token !== null) {
        this.d.metrics.tokenVerifications.inc()
        verified = await this.authenticator.verify(token)
      }
    }
    return { originAllowed, verified }
  }

  /** `wire`: the TCP socket under `socket`, when there is one (its bytes count against the pre-auth budget). */
  private startSession(socket: RelaySocket, ip: string, url: string, admission: Admission, wire: WireSocket | null = null): void {
    const session = new DocSession(this, this.d, socket, ip)
    this.sessions.add(session)
    session.start(url, admission, wire)
  }

  /** The session's socket closed. */
  ended(session: DocSession): void {
    this.sessions.delete(session)
  }

  /**
   * Revokes tokens by `jti` and/or `sub` (see RevocationList), closing every
   * live connection that uses one of them (4412). Returns how many were closed.
   */
  revoke(match: { jti?: string; sub?: string }, atMs?: number): number {
    this.revocations.revoke(match, atMs)
    let closed = 0
    for (const session of this.sessions) {
      if (session.claims !== null && this.revocations.isRevoked(session.claims) &&
        session.end('ERR_AUTH_REVOKED', CLOSE_CODES.TOKEN_REVOKED, 'revoked')) closed++
    }
    return closed
  }

  /** Counts connections by access, for status. */
  accessCounts(): Record<Access, number> {
    const counts: Record<Access, number> = { read: 0, write: 0 }
    for (const s of this.sessions) if (s.access !== null) counts[s.access]++
    return counts
  }

  stop(): void {
    if (this.heartbeat !== null) this.d.options.clock.clearInterval(this.heartbeat)
    this.heartbeat = null
    this.deadlines.stop()
    for (const s of this.sessions) s.clearTimers()
  }

  /** Pings every socket; terminates those that did not answer the previous ping (nor sent anything since). */
  private beat(): void {
    for (const session of this.sessions) session.beat()
  }
}

type Phase = 'pre-auth' | 'loading' | 'live' | 'closed'

class DocSession implements Scheduled {
  readonly id = flatUuid()
  /** Owned by the relay's Deadlines. */
  deadlineIndex = -1
  deadlineAt = 0
  claims: TokenClaims | null = null
  access: Access | null = null
  private phase: Phase = 'pre-auth'
  private docName = ''
  /** Made on the first log line (most sessions never log): see `log`. */
  private logger: Logger | null = null
  private connection: Connection | null = null
  /** The connection's room, held until the connection closes. */
  private room: Room | null = null
  private readonly queue: { data: RawData; isBinary: boolean }[] = []
  private queuedBytes = 0
  private preAuthFrames = 0
  private preAuthBytes = 0
  private verifying = false
  private refreshSeq = 0
  private alive = true
  private lastActivity: number
  private readonly rate: ConnectionRateLimiter
  /** Rate-limit pause (rare: a timer of its own). */
  private resumeTimer: ClockTimer | null = null
  /** Whether the idle timeout applies (it starts once the document name and Origin passed). */
  private idleArmed = false
  /** When the token (with the clock tolerance) expires; null: no expiry. */
  private expiresAt: number | null = null
  /** When the pre-auth phase runs out; null: not in it. */
  private preAuthEndsAt: number | null = null
  private released = false
  private readonly clock: Clock
  /** While unauthenticated: the count of bytes read from the TCP socket. */
  private wire: WireBudget | null = null

  constructor(
    private readonly owner: DocSockets,
    private readonly d: DocSocketsDeps,
    private readonly socket: RelaySocket,
    private readonly ip: string
  ) {
    this.clock = d.options.clock
    this.lastActivity = this.clock.now()
    this.rate = ConnectionRateLimiter.for(d.options.rateLimit, this.lastActivity)
  }

  /** The session's logger (`conn`, and `doc` once known), made when first used. */
  private get log(): Logger {
    return (this.logger ??= this.d.logger.child(this.docName === '' ? { conn: this.id } : { conn: this.id, doc: this.docName }))
  }

  /** A debug line: the logger is not made for it unless debug is on. */
  private debug(obj: object, msg: string): void {
    if (this.d.logger.isLevelEnabled('debug')) this.log.debug(obj, msg)
  }

  start(url: string, admission: Admission, wire: WireSocket | null): void {
    const { options } = this.d
    const verdict = this.owner.limiter.tryAcquire(this.ip)
    if (verdict !== 'ok') {
      this.released = true
      this.socket.on('close', () => this.owner.ended(this))
      this.refuse('ERR_TOO_MANY_CONNECTIONS', CLOSE_CODES.TRY_AGAIN_LATER, verdict)
      return
    }
    this.socket.on('close', () => this.onClose())
    this.socket.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary))
    this.socket.on('pong', () => {
      this.alive = true
    })
    this.socket.on('error', (err) => {
      // ws has already closed the socket with 1009 for a frame over maxPayload; nothing of it was read.
      if ((err as { code?: unknown }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.count('oversized')
        if (this.connection !== null) this.connection.endReason ??= 'protocol'
      }
      this.debug({ err }, 'socket error')
    })

    const parsed = parseDocName(url)
    if (!parsed.ok) {
      this.refuse('ERR_DOC_NAME', CLOSE_CODES.INVALID_MESSAGE, 'bad_doc_name', parsed.reason)
      return
    }
    this.docName = parsed.docName
    this.logger = null
    if (!admission.originAllowed) {
      this.refuse('ERR_ORIGIN', CLOSE_CODES.ORIGIN_NOT_ALLOWED, 'origin')
      return
    }
    if (options.idleTimeoutMs > 0) {
      this.idleArmed = true
      this.schedule()
    }
    if (this.owner.authenticator === null) {
      this.admitted('write', null)
      return
    }
    if (admission.verified !== null) {
      this.admit(admission.verified)
      return
    }
    // No token in the upgrade: the first auth message must bring one, within the pre-auth budget.
    this.preAuthEndsAt = this.clock.now() + options.preAuth.timeoutMs
    this.schedule()
    this.watchWire(wire)
  }

  /** Bytes read from the TCP socket count against the pre-auth budget as they arrive (wire-budget.ts). */
  private watchWire(wire: WireSocket | null): void {
    if (wire === null) return
    const { maxBytes, maxFrames } = this.d.options.preAuth
    this.wire = new WireBudget(wire, WireBudget.allowance(maxBytes, maxFrames), () => {
      // Already refused for another reason and still sending: nothing more is read.
      if (this.phase === 'closed') {
        this.socket.terminate()
        return
      }
      if (this.phase !== 'pre-auth') return
      this.count('pre_auth_budget')
      this.refuse('ERR_AUTH_TIMEOUT', CLOSE_CODES.AUTH_TIMEOUT, 'auth_timeout', 'pre-auth byte budget exceeded (partial frames included)', true)
    })
  }

  private unwatchWire(): void {
    this.wire?.stop()
    this.wire = null
  }


  /** The earliest of the session's deadlines, or null if none applies. */
  private nextDeadline(): number | null {
    let at = this.idleArmed ? this.lastActivity + this.d.options.idleTimeoutMs : Number.POSITIVE_INFINITY
    if (this.expiresAt !== null && this.expiresAt < at) at = this.expiresAt
    if (this.preAuthEndsAt !== null && this.preAuthEndsAt < at) at = this.preAuthEndsAt
    return at === Number.POSITIVE_INFINITY ? null : at
  }

  /**
   * Puts the session in the relay's deadlines at its earliest one. Activity
   * does not move it (that would be heap work per message): when an idle
   * deadline comes due the session checks, and is scheduled again if it was active since.
   */
  private schedule(): void {
    const at = this.phase === 'closed' ? null : this.nextDeadline()
    if (at === null) this.owner.deadlines.delete(this)
    else this.owner.deadlines.set(this, at)
  }

  /** Called by the relay's Deadlines when this session's deadline came (it is no longer scheduled). */
  deadlinePassed(): void {
    if (this.phase === 'closed') return
    const now = this.clock.now()
    if (this.preAuthEndsAt !== null && now >= this.preAuthEndsAt) {
      this.preAuthEndsAt = null
      if (this.phase === 'pre-auth') {
        this.refuse('ERR_AUTH_TIMEOUT', CLOSE_CODES.AUTH_TIMEOUT, 'auth_timeout')
        return
      }
    }
    if (this.expiresAt !== null && now >= this.expiresAt) {
      this.expiresAt = null
      this.log.info('token expired: closing')
      this.end('ERR_AUTH_EXPIRED', CLOSE_CODES.TOKEN_EXPIRED, 'expired')
      return
    }
    if (this.idleArmed && now >= this.lastActivity + this.d.options.idleTimeoutMs) {
      this.log.info('idle: closing')
      this.end('ERR_IDLE_TIMEOUT', CLOSE_CODES.IDLE_TIMEOUT, 'idle')
      return
    }
    this.schedule()
  }

  /**
   * Ends the session with a relay error (through the Connection once live, so a
   * Meridian client gets an `error`). False if it had already ended.
   */
  end(code: RelayErrorCode, closeCode: number, why: CloseReason): boolean {
    if (this.phase === 'closed') return false
    if (this.connection !== null) {
      this.connection.endReason ??= why
      this.connection.reject(new RelayError(code), closeCode)
      this.phase = 'closed'
      this.clearTimers()
    } else {
      this.refuse(code, closeCode, REFUSE_FOR[why] ?? 'other')
    }
    return true
  }

  beat(): void {
    if (this.phase === 'closed') return
    if (!this.alive) {
      this.log.info('no pong since the last ping: terminating')
      if (this.connection !== null) this.connection.endReason ??= 'heartbeat'
      this.socket.terminate()
      return
    }
    this.alive = false
    try {
      this.socket.ping()
    } catch {
      // Not open (closing): the close event follows.
    }
  }

  /** Stops every timer and deadline; a socket paused by the rate limiter reads again, so its close handshake can complete. */
  clearTimers(): void {
    this.owner.deadlines.delete(this)
    this.idleArmed = false
    this.expiresAt = this.preAuthEndsAt = null
    if (this.resumeTimer !== null) {
      this.clock.clearTimeout(this.resumeTimer)
      this.socket.resume()
    }
    this.resumeTimer = null
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.phase === 'closed') return
    const size = byteLength(data)
    this.lastActivity = this.clock.now()
    this.alive = true
    const verdict = this.rate.take(size, this.lastActivity)
    if (verdict.kind === 'exceeded') {
      this.count('rate_limited')
      this.log.info({ what: verdict.what }, 'rate limit exceeded by more than a burst: closing')
      this.end('ERR_RATE_LIMITED', CLOSE_CODES.RATE_LIMITED, 'rate_limited')
      return
    }
    if (verdict.kind === 'pause') this.throttle(verdict.ms)
    try {
      this.dispatch(data, isBinary, size)
    } catch (err) {
      // A bug, not the peer's fault; still only this connection pays for it (an exception here would
      // otherwise escape ws's event handler and take the process down).
      this.log.error({ err }, 'unexpected error handling a message: closing the connection')
      this.count('unexpected')
      this.end('ERR_PROTOCOL', CLOSE_CODES.INTERNAL_ERROR, 'other')
    }
  }

  private dispatch(data: RawData, isBinary: boolean, size: number): void {
    switch (this.phase) {
      case 'pre-auth':
        this.preAuthFrame(data, isBinary, size)
        return
      case 'loading':
        if (this.queue.length >= MAX_QUEUED_BEFORE_LOAD || this.queuedBytes + size > this.d.options.maxBufferedBytes) {
          this.refuse('ERR_LOADING_QUEUE_FULL', CLOSE_CODES.TRY_AGAIN_LATER, 'queue_overflow')
          return
        }
        this.queue.push({ data, isBinary })
        this.queuedBytes += size
        return
      case 'live':
        this.connection?.handleRaw(data, isBinary)
        return
      case 'closed':
        return // a frame that raced the close
    }
  }

  /** Over the rate: stop reading until the buckets are repaid (TCP backpressure slows the sender meanwhile). */
  private throttle(ms: number): void {
    if (this.resumeTimer !== null) return
    this.d.metrics.throttled.inc()
    this.socket.pause()
    const resume = (): void => {
      this.resumeTimer = null
      if (this.phase === 'closed') return
      const left = this.rate.msUntilRepaid(this.clock.now())
      if (left > 0) {
        this.resumeTimer = this.clock.setTimeout(resume, left)
        return
      }
      this.socket.resume()
    }
    this.resumeTimer = this.clock.setTimeout(resume, ms)
  }

  private preAuthFrame(data: RawData, isBinary: boolean, size: number): void {
    const { preAuth, maxMessageBytes } = this.d.options
    this.preAuthFrames++
    this.preAuthBytes += size
    if (this.preAuthFrames > preAuth.maxFrames || this.preAuthBytes > preAuth.maxBytes) {
      this.count('pre_auth_budget')
      this.refuse('ERR_AUTH_TIMEOUT', CLOSE_CODES.AUTH_TIMEOUT, 'auth_timeout', 'pre-auth budget exceeded')
      return
    }
    if (!isBinary) {
      this.count('text_frame')
      this.refuse('ERR_PROTOCOL', CLOSE_CODES.UNSUPPORTED_DATA, 'pre_auth_invalid', 'text frame')
      return
    }
    const decoded = tryDecodeMessage(toBytes(data), { maxMessageBytes })
    if (!decoded.ok) {
      this.count('malformed')
      this.refuse('ERR_PROTOCOL', CLOSE_CODES.INVALID_MESSAGE, 'pre_auth_invalid', decoded.error.code)
      return
    }
    const message = decoded.message
    if (message.type !== 'auth-token' || this.verifying) {
      // Before the auth message only a hello may come (kept for later); once it is being
      // verified, anything (pipelined sync messages). Bounded by the budget above.
      if (!this.verifying && message.type !== 'hello') {
        this.refuse('ERR_AUTH_REQUIRED', CLOSE_CODES.UNAUTHENTICATED, 'no_token')
        return
      }
      this.queue.push({ data, isBinary })
      this.queuedBytes += size
      return
    }
    this.verifying = true
    this.d.metrics.tokenVerifications.inc()
    void this.owner.authenticator?.verify(message.token).then((result) => {
      this.verifying = false
      if (this.phase === 'pre-auth') this.admit(result)
    })
  }

  private admit(result: VerifyResult): void {
    if (!result.ok) {
      const failure = AUTH_FAILURES[result.code]
      this.refuse(result.code, failure.close, failure.reason, result.detail)
      return
    }
    const access = accessFor(result.grants, this.docName)
    if (access === null) {
      this.refuse('ERR_AUTH_FORBIDDEN', CLOSE_CODES.FORBIDDEN, 'forbidden')
      return
    }
    this.admitted(access, result.claims)
  }

  private admitted(access: Access, claims: TokenClaims | null): void {
    this.preAuthEndsAt = null
    this.unwatchWire()
    this.access = access
    this.claims = claims
    this.phase = 'loading'
    if (claims !== null) this.armExpiry(claims)
    else this.schedule()
    if (this.phase !== 'loading') return // expired on arrival
    const { rooms, options, metrics, connections } = this.d
    const logBindings = { doc: this.docName, access, ...(claims?.sub !== undefined ? { sub: claims.sub } : {}) }
    rooms.acquire(this.docName).then(
      (room) => {
        metrics.documentLoads.inc({ result: 'ok' })
        if (this.phase === 'closed') {
          rooms.release(room)
          return
        }
        const connection = new Connection({
          id: this.id,
          socket: this.socket,
          room,
          logger: this.d.logger,
          logBindings,
          nodeId: options.nodeId,
          region: options.region,
          limits: this.owner.decodeLimits,
          maxBufferedBytes: options.maxBufferedBytes,
          access,
          metrics,
          docSize: this.owner.docSize,
          awarenessLimits: options.awarenessLimits,
          ...(this.d.guarantees !== undefined ? { guarantees: this.d.guarantees } : {}),
          ...(this.owner.authenticator !== null ? { onAuthToken: this.authTokenHandler() } : {}),
          // Methods of the session rather than closures here, which would keep this scope for the connection's life.
          onClose: this.onConnectionClosed
        })
        this.room = room
        this.connection = connection
        connections.add(connection)
        metrics.connectionsAccepted.inc()
        metrics.connections.inc({ access })
        this.phase = 'live'
        this.debug({ access, ip: this.ip, ...(claims?.sub !== undefined ? { sub: claims.sub } : {}) }, 'connection opened')
        connection.start()
        const queued = this.queue.splice(0)
        this.queuedBytes = 0
        for (const { data, isBinary } of queued) connection.handleRaw(data, isBinary)
      },
      (err: unknown) => {
        const closing = err instanceof RelayError && err.code === 'ERR_RELAY_CLOSED'
        if (err instanceof RelayError && err.code === 'ERR_MEMORY_BUDGET') {
          // Retryable: documents leave memory as they go idle.
          this.refuse('ERR_MEMORY_BUDGET', CLOSE_CODES.TRY_AGAIN_LATER, 'memory_budget')
          return
        }
        if (!closing) {
          metrics.documentLoads.inc({ result: 'error' })
          this.log.error({ err }, 'document load failed')
        }
        this.refuse(
          closing ? 'ERR_RELAY_CLOSED' : err instanceof RelayError ? err.code : 'ERR_DOC_LOAD',
          closing ? CLOSE_CODES.GOING_AWAY : CLOSE_CODES.DOC_LOAD_FAILED,
          closing ? 'shutting_down' : 'doc_load_failed'
        )
      }
    )
  }

  /** The live connection ended (by either side): it leaves its room. */
  private readonly onConnectionClosed = (): void => {
    const c = this.connection
    if (c === null) return
    const { connections, rooms, metrics } = this.d
    this.phase = 'closed'
    this.clearTimers()
    this.debug({ reason: c.endReason ?? 'client' }, 'connection closed')
    connections.delete(c)
    if (this.room !== null) rooms.release(this.room)
    this.room = null
    metrics.connections.dec({ access: c.access })
    metrics.connectionsClosed.inc({ reason: c.endReason ?? 'client' })
  }

  /** Where the connection hands tokens that arrive on it (a function made here keeps nothing else alive). */
  private authTokenHandler(): (token: string) => void {
    return (token) => this.refresh(token)
  }

  /** A new token on a live connection: it must verify and still grant this document; access follows it. */
  private refresh(token: string): void {
    const seq = ++this.refreshSeq
    this.d.metrics.tokenVerifications.inc()
    void this.owner.authenticator?.verify(token).then((result) => {
      if (seq !== this.refreshSeq || this.phase === 'closed') return
      if (!result.ok) {
        const failure = AUTH_FAILURES[result.code]
        this.end(result.code, failure.close, result.code === 'ERR_AUTH_REVOKED' ? 'revoked' : 'expired')
        return
      }
      const access = accessFor(result.grants, this.docName)
      if (access === null) {
        this.end('ERR_AUTH_FORBIDDEN', CLOSE_CODES.FORBIDDEN, 'revoked')
        return
      }
      const previous = this.connection?.access
      this.claims = result.claims
      this.access = access
      if (this.connection !== null && previous !== undefined && previous !== access) {
        this.connection.setAccess(access)
        this.d.metrics.connections.dec({ access: previous })
        this.d.metrics.connections.inc({ access })
      }
      this.armExpiry(result.claims)
      this.debug({ access }, 'token refreshed')
    })
  }

  /** Sets the session's expiry from the token (replacing the previous one); an already expired token ends it now. */
  private armExpiry(claims: TokenClaims): void {
    this.expiresAt = claims.exp === undefined || this.owner.authenticator === null
      ? null
      : claims.exp * 1000 + this.owner.authenticator.config.clockToleranceMs
    if (this.expiresAt !== null && this.expiresAt <= this.clock.now()) {
      this.owner.deadlines.delete(this)
      this.deadlinePassed()
      return
    }
    this.schedule()
  }

  /** Refused before it joined its document: counted, logged, closed with the documented code. */
  private refuse(code: RelayErrorCode, closeCode: number, reason: RefuseReason, detail?: string, stopReading = false): void {
    if (this.phase === 'closed') return
    if (this.connection !== null) {
      this.end(code, closeCode, 'other')
      return
    }
    this.d.metrics.connectionsRefused.inc({ reason })
    this.log.info({ code, reason, closeCode, ip: this.ip, ...(detail !== undefined ? { detail } : {}) }, 'connection refused')
    this.close(closeCode, code, stopReading)
  }

  /**
   * A refused socket: its client gets the close frame and a short grace to
   * complete the close handshake before the socket is destroyed. The pre-auth
   * byte count stays on until then; once over it (`stopReading`), nothing more is read.
   */
  private close(closeCode: number, reason: string, stopReading = false): void {
    this.phase = 'closed'
    this.clearTimers()
    this.queue.length = 0
    if (this.socket.readyState === SOCKET_OPEN || this.socket.readyState === SOCKET_CONNECTING) {
      if (stopReading) closeThenTerminate(this.socket, closeCode, reason, DEFAULT_CLOSE_GRACE_MS, this.clock)
      else {
        this.socket.close(closeCode, reason.slice(0, 120))
        terminateAfterGrace(this.socket, DEFAULT_CLOSE_GRACE_MS, this.clock)
      }
    }
  }

  private onClose(): void {
    this.unwatchWire()
    this.owner.ended(this)
    this.phase = 'closed'
    this.clearTimers()
    this.queue.length = 0
    this.connection?.dispose()
    if (!this.released) {
      this.released = true
      this.owner.limiter.release(this.ip)
    }
  }

  private count(reason: RejectReason): void {
    this.d.metrics.rejectedMessages.inc({ reason })
  }
}

/**
 * A random UUID as one flat string: `randomUUID()` returns a tree of
 * concatenated pieces (about 400 bytes of heap while it lives, as the id of
 * every open socket does); this is its 36 characters.
 */
function flatUuid(): string {
  return Buffer.from(randomUUID(), 'latin1').toString('latin1')
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

function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0)
  return data instanceof ArrayBuffer ? data.byteLength : data.length
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data))
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}
