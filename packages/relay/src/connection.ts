/**
 * One document socket, from its acceptance to its close: the one owner of the
 * socket. It checks the document name and Origin, takes the token through its
 * auth gate (auth-gate.ts), bounds the rate, watches idleness, liveness and
 * the token's expiry, decodes frames for its document session
 * (doc-session.ts), and ends the socket through one `end(reason, error?)`.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { RawData } from 'ws'
import type { Clock } from '@meridian/base'
import type { RelaySocket } from './transport.js'
import { CLOSE_CODES, RelayError } from './errors.js'
import { parseDocName } from './doc-name.js'
import type { Access, TokenClaims } from './auth.js'
import type { Scheduled } from './deadlines.js'
import type { WireSocket } from './wire-budget.js'
import type { CloseReason, RejectReason } from './metrics.js'
import type { Broadcast } from './broadcast.js'
import type { RoomPeer } from './room.js'
import { AuthGate, PRE_AUTH_TIMEOUT, expiredEnd, verdictFor, type AuthVerdict } from './auth-gate.js'
import { DocSession, type SessionHost } from './doc-session.js'
import { SocketWriter, type SocketWriterOwner } from './socket-writer.js'
import { closeReasonOf, endOpen, endRefused, endSilently, refusal, type SilentEnd, type SocketError } from './connection-end.js'
import { SocketPacing } from './socket-pacing.js'
import { byteLength, type QueuedFrame } from './frames.js'
import type { Admission, ConnectionHub } from './connection-hub.js'

/** The socket's states; `end` is the only way into 'ended'. */
type SocketState =
  /** Waiting for the token: frames are decoded by the auth gate, those it keeps are held for the document. */
  | { readonly kind: 'pre-auth'; readonly held: QueuedFrame[]; heldBytes: number }
  /** The token (if any) granted the document: its session loads it, then speaks the protocol. */
  | { readonly kind: 'admitted'; readonly session: DocSession }
  | { readonly kind: 'ended'; readonly session: DocSession | null }

export class Connection implements Scheduled, SessionHost, SocketWriterOwner {
  readonly id = flatUuid()
  /** Owned by the relay's Deadlines. */
  deadlineIndex = -1
  deadlineAt = 0
  claims: TokenClaims | null = null
  private state: SocketState = { kind: 'pre-auth', held: [], heldBytes: 0 }
  private docName = ''
  /** Made on the first log line (most sockets never log): see `log`. */
  private logger: Logger | null = null
  private gate: AuthGate | null = null
  /** Made when the document opens (nothing is sent before). */
  private writer: SocketWriter | null = null
  /** Why the socket is going down, when known before its close event (first cause wins). */
  private closeHint: CloseReason | null = null
  private readonly pacing: SocketPacing
  private released = false
  private readonly clock: Clock

  constructor(private readonly hub: ConnectionHub<Connection>, private readonly socket: RelaySocket, private readonly ip: string) {
    this.clock = hub.options.clock
    this.pacing = new SocketPacing(socket, this.clock, hub.options.rateLimit, hub.metrics.throttled)
  }

  /** The socket's logger (`conn`, and `doc` once known), made when first used. */
  get log(): Logger {
    return (this.logger ??= this.hub.logger.child(this.docName === '' ? { conn: this.id } : { conn: this.id, doc: this.docName }))
  }

  get debugEnabled(): boolean {
    return this.hub.logger.isLevelEnabled('debug')
  }

  /** A debug line (the logger is not made for it unless debug is on). */
  private debug(obj: object, msg: string): void {
    if (this.debugEnabled) this.log.debug(obj, msg)
  }

  /** The document's access, once admitted. */
  get access(): Access | null {
    return this.state.kind === 'pre-auth' ? null : (this.state.session?.access ?? null)
  }

  /** Whether the document is open on this socket. */
  get isOpen(): boolean {
    return this.state.kind === 'admitted' && this.state.session.isOpen
  }

  private get isEnded(): boolean {
    return this.state.kind === 'ended'
  }

  /** `wire`: the TCP socket under `socket`, when there is one (its bytes count against the pre-auth budget). */
  start(url: string, admission: Admission, wire: WireSocket | null): void {
    const { options } = this.hub
    const verdict = this.hub.limiter.tryAcquire(this.ip)
    if (verdict !== 'ok') {
      this.released = true
      this.socket.on('close', () => this.hub.ended(this))
      this.end('other', refusal('ERR_TOO_MANY_CONNECTIONS', CLOSE_CODES.TRY_AGAIN_LATER, verdict))
      return
    }
    this.socket.on('close', () => this.onClose())
    this.socket.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary))
    this.socket.on('pong', () => this.pacing.pong())
    this.socket.on('error', (err) => {
      // ws has already closed the socket with 1009 for a frame over maxPayload; nothing of it was read.
      if ((err as { code?: unknown }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.count('oversized')
        if (this.isOpen) this.closeHint ??= 'protocol'
      }
      this.debug({ err }, 'socket error')
    })

    const parsed = parseDocName(url)
    if (!parsed.ok) {
      this.end('other', refusal('ERR_DOC_NAME', CLOSE_CODES.INVALID_MESSAGE, 'bad_doc_name', parsed.reason))
      return
    }
    this.docName = parsed.docName
    this.logger = null
    if (!admission.originAllowed) {
      this.end('other', refusal('ERR_ORIGIN', CLOSE_CODES.ORIGIN_NOT_ALLOWED, 'origin'))
      return
    }
    if (options.idleTimeoutMs > 0) {
      this.pacing.idleArmed = true
      this.schedule()
    }
    const authenticator = this.hub.authenticator
    if (authenticator === null) {
      this.admitted('write', null)
      return
    }
    this.gate = new AuthGate({ authenticator, docName: this.docName, preAuth: options.preAuth, limits: this.hub.decodeLimits, metrics: this.hub.metrics })
    if (admission.verified !== null) {
      this.applyVerdict(verdictFor(admission.verified, this.docName))
      return
    }
    // No token in the upgrade: the first auth message must bring one, within the pre-auth budget.
    this.gate.startPreAuth(this.clock.now() + options.preAuth.timeoutMs, wire, () => this.wireExceeded())
    this.schedule()
  }

  /** Over the pre-auth byte budget on the wire (partial frames included). */
  private wireExceeded(): void {
    switch (this.state.kind) {
      case 'ended':
        // Already refused for another reason and still sending: nothing more is read.
        this.socket.terminate()
        return
      case 'admitted':
        return
      case 'pre-auth':
        this.count('pre_auth_budget')
        this.end('other', AuthGate.WIRE_EXCEEDED)
    }
  }

  private applyVerdict(verdict: AuthVerdict): void {
    switch (verdict.kind) {
      case 'deny':
        this.end(verdict.closed, verdict.end)
        return
      case 'admit':
        this.admitted(verdict.access, verdict.claims)
    }
  }

  private admitted(access: Access, claims: TokenClaims | null): void {
    if (this.state.kind !== 'pre-auth') return
    const { held, heldBytes } = this.state
    this.gate?.endPreAuth()
    this.claims = claims
    const session = new DocSession(this, this.hub.sessionDeps, this.docName, access, held, heldBytes)
    this.state = { kind: 'admitted', session }
    if (claims !== null) this.armExpiry(claims)
    else this.schedule()
    if (this.isEnded) return // expired on arrival
    session.load()
  }

  /** The session's document is in memory: the socket counts as a connection from now on. */
  opened(session: DocSession): void {
    const { metrics } = this.hub
    this.writer = new SocketWriter(this.socket, this, this.hub.options.maxBufferedBytes, metrics)
    metrics.connectionsAccepted.inc()
    metrics.connections.inc({ access: session.access })
    const sub = this.claims?.sub
    this.debug({ access: session.access, ip: this.ip, ...(sub !== undefined ? { sub } : {}) }, 'connection opened')
  }

  /** A token on the live socket: it must verify and still grant this document; access follows it. */
  refreshToken(token: string): void {
    const gate = this.gate
    if (gate === null) return // no auth: ignored
    void gate.refresh(token).then((verdict) => {
      if (verdict === null || this.state.kind !== 'admitted') return
      const session = this.state.session
      switch (verdict.kind) {
        case 'deny':
          this.end(verdict.closed, { error: verdict.end.error, closeCode: verdict.end.closeCode })
          return
        case 'admit':
          break
      }
      this.claims = verdict.claims
      session.setAccess(verdict.access)
      if (verdict.claims !== null) this.armExpiry(verdict.claims)
      this.debug({ access: verdict.access }, 'token refreshed')
    })
  }

  /** Sets the expiry from the token (replacing the previous one); an already expired token ends the socket now. */
  private armExpiry(claims: TokenClaims): void {
    if (this.gate?.armExpiry(claims, this.clock.now()) === true) {
      this.hub.deadlines.delete(this)
      this.deadlinePassed()
      return
    }
    this.schedule()
  }

  /**
   * Puts the socket in the relay's deadlines at its earliest one. Activity
   * does not move it (that would be heap work per message): when an idle
   * deadline comes due the socket checks, and is scheduled again if it was active since.
   */
  private schedule(): void {
    const at = Math.min(this.pacing.idleAt(this.hub.options.idleTimeoutMs), this.gate?.nextDeadline() ?? Number.POSITIVE_INFINITY)
    if (this.isEnded || at === Number.POSITIVE_INFINITY) this.hub.deadlines.delete(this)
    else this.hub.deadlines.set(this, at)
  }

  /** Called by the relay's Deadlines when this socket's deadline came (it is no longer scheduled). */
  deadlinePassed(): void {
    if (this.isEnded) return
    const now = this.clock.now()
    switch (this.gate?.due(now, this.state.kind === 'pre-auth') ?? null) {
      case 'pre-auth':
        this.end('other', PRE_AUTH_TIMEOUT)
        return
      case 'expired':
        this.log.info('token expired: closing')
        this.end('expired', expiredEnd())
        return
      case null:
        break
    }
    if (now >= this.pacing.idleAt(this.hub.options.idleTimeoutMs)) {
      this.log.info('idle: closing')
      this.end('idle', { error: new RelayError('ERR_IDLE_TIMEOUT'), closeCode: CLOSE_CODES.IDLE_TIMEOUT })
      return
    }
    this.schedule()
  }

  /** The heartbeat: terminates a socket that did not answer the previous ping (nor sent anything since). */
  beat(): void {
    if (this.isEnded || this.pacing.beat()) return
    this.log.info('no pong since the last ping: terminating')
    this.end('heartbeat')
  }

  /** Stops every timer and deadline; a socket paused by the rate limiter reads again, so its close handshake can complete. */
  clearTimers(): void {
    this.hub.deadlines.delete(this)
    this.gate?.clear()
    this.pacing.stop()
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.isEnded) return
    const size = byteLength(data)
    const verdict = this.pacing.activity(size)
    if (verdict.kind === 'exceeded') {
      this.count('rate_limited')
      this.log.info({ what: verdict.what }, 'rate limit exceeded by more than a burst: closing')
      this.end('rate_limited', { error: new RelayError('ERR_RATE_LIMITED'), closeCode: CLOSE_CODES.RATE_LIMITED })
      return
    }
    try {
      this.dispatch(data, isBinary, size)
    } catch (err) {
      // A bug, not the peer's fault; still only this socket pays for it (an exception here would
      // otherwise escape ws's event handler and take the process down).
      this.log.error({ err }, 'unexpected error handling a message: closing the connection')
      this.count('unexpected')
      this.end('other', { error: new RelayError('ERR_PROTOCOL'), closeCode: CLOSE_CODES.INTERNAL_ERROR })
    }
  }

  private dispatch(data: RawData, isBinary: boolean, size: number): void {
    const state = this.state
    switch (state.kind) {
      case 'pre-auth':
        this.preAuthFrame(state, data, isBinary, size)
        return
      case 'admitted':
        if (state.session.isOpen) state.session.frame(data, isBinary)
        else if (!state.session.hold({ kind: 'raw', data, isBinary }, size)) {
          this.end('other', refusal('ERR_LOADING_QUEUE_FULL', CLOSE_CODES.TRY_AGAIN_LATER, 'queue_overflow'))
        }
        return
      case 'ended':
        return // a frame that raced the close
    }
  }

  private preAuthFrame(state: Extract<SocketState, { kind: 'pre-auth' }>, data: RawData, isBinary: boolean, size: number): void {
    if (this.gate === null) return
    const step = this.gate.preAuthFrame(data, isBinary, size)
    switch (step.kind) {
      case 'refuse':
        if (step.rejected !== null) this.count(step.rejected)
        this.end('other', step.end)
        return
      case 'hold':
        state.held.push({ kind: 'decoded', message: step.message, bytes: size })
        state.heldBytes += size
        return
      case 'verify':
        void step.verdict.then((verdict) => {
          if (this.state.kind === 'pre-auth') this.applyVerdict(verdict)
        })
    }
  }

  send(message: Uint8Array): void {
    if (!this.isEnded) this.writer?.send(message)
  }

  deliver(broadcast: Broadcast, peer: RoomPeer): boolean {
    return !this.isEnded && this.writer !== null && this.writer.deliver(broadcast, peer)
  }

  /** The writer destroyed the socket: the peer does not read fast enough. */
  slowConsumer(): void {
    this.end('slow_consumer')
  }

  /** Ends the socket because of `error` (its close reason follows from its code). */
  reject(error: RelayError, closeCode: number): void {
    this.end(closeReasonOf(error.code), { error, closeCode })
  }

  /**
   * Ends the socket, once (false if already ended). Before the document opened
   * it is a refusal (counted by `error.refused`); once open, `reason` is the
   * close reason (unless an earlier cause is known) and a Meridian client is told `error` first.
   */
  end(reason: SilentEnd): boolean
  end(reason: CloseReason, error: SocketError): boolean
  end(reason: CloseReason, error?: SocketError): boolean {
    const state = this.state
    if (state.kind === 'ended') return false
    const session = state.kind === 'admitted' ? state.session : null
    const open = session?.isOpen === true
    const why = open ? (this.closeHint ?? reason) : reason
    this.state = { kind: 'ended', session }
    this.clearTimers()
    const ctx = { socket: this.socket, logs: this, metrics: this.hub.metrics, clock: this.clock }
    if (error === undefined) endSilently(ctx, reason as SilentEnd)
    else if (open) endOpen(ctx, error, session.meridian ? this.writer : null)
    else endRefused(ctx, error, reason, this.ip)
    if (session === null) return true
    session.close()
    if (open) {
      const { metrics } = this.hub
      this.debug({ reason: why }, 'connection closed')
      metrics.connections.dec({ access: session.access })
      metrics.connectionsClosed.inc({ reason: why })
    }
    return true
  }

  private onClose(): void {
    this.gate?.endPreAuth()
    this.hub.ended(this)
    this.end('client')
    this.clearTimers()
    if (!this.released) {
      this.released = true
      this.hub.limiter.release(this.ip)
    }
  }

  private count(reason: RejectReason): void {
    this.hub.metrics.rejectedMessages.inc({ reason })
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
