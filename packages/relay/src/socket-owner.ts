/**
 * What every document socket shares, single-document (connection.ts) or
 * multiplexed (mux-connection.ts): the one owner of the socket from its
 * acceptance to its close. It checks the Origin, takes the token through its
 * auth gate (auth-gate.ts), bounds the rate, watches idleness, liveness and
 * the token's expiry, and ends the socket through one `end(reason, error?)`.
 * What the token admits — one document session, or a multiplexed socket's
 * documents — is the subclass's `L`; the subclass judges the token for it.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { RawData } from 'ws'
import type { Clock } from '@meridian/base'
import type { RelaySocket } from './transport.js'
import { CLOSE_CODES, RelayError } from './errors.js'
import type { Access, TokenClaims, VerifyResult } from './auth.js'
import type { WireSocket } from './wire-budget.js'
import type { CloseReason, ConnectionAccess, RejectReason } from './metrics.js'
import { AuthGate, PRE_AUTH_TIMEOUT, expiredEnd, type AuthDenial } from './auth-gate.js'
import { SocketWriter, type SocketWriterOwner } from './socket-writer.js'
import { closeReasonOf, endOpen, endRefused, endSilently, refusal, type SilentEnd, type SocketError } from './connection-end.js'
import { SocketPacing } from './socket-pacing.js'
import { byteLength, type QueuedFrame } from './frames.js'
import type { Admission, ConnectionHub, HubSocket } from './connection-hub.js'

/** The socket's states; `end` is the only way into 'ended'. */
export type SocketState<L> =
  /** Waiting for the token: frames are decoded by the auth gate, those it keeps are held for what it admits. */
  | { readonly kind: 'pre-auth'; readonly held: QueuedFrame[]; heldBytes: number }
  /** The token (if any) was accepted: `live` speaks the protocol. */
  | { readonly kind: 'admitted'; readonly live: L }
  | { readonly kind: 'ended'; readonly live: L | null }

export abstract class SocketOwner<L> implements HubSocket, SocketWriterOwner {
  readonly id = flatUuid()
  /** Owned by the relay's Deadlines. */
  deadlineIndex = -1
  deadlineAt = 0
  claims: TokenClaims | null = null
  protected state: SocketState<L> = { kind: 'pre-auth', held: [], heldBytes: 0 }
  /** Made on the first log line (most sockets never log): see `log`. */
  private logger: Logger | null = null
  private gate: AuthGate | null = null
  /** Made when the socket opens (nothing is sent before). */
  protected writer: SocketWriter | null = null
  /** Why the socket is going down, when known before its close event (first cause wins). */
  private closeHint: CloseReason | null = null
  private readonly pacing: SocketPacing
  private released = false
  private readonly clock: Clock

  constructor(protected readonly hub: ConnectionHub, protected readonly socket: RelaySocket, protected readonly ip: string) {
    this.clock = hub.options.clock
    this.pacing = new SocketPacing(socket, this.clock, hub.options.rateLimit, hub.metrics.throttled)
  }

  /** Checks on the URL before anything else (false: the socket was refused). */
  protected abstract accepts(url: string): boolean
  /** Fields of the socket's logger besides `conn`, or null. */
  protected abstract logContext(): Record<string, unknown> | null
  /** Auth is off: admitted as it is. */
  protected abstract admitWithoutAuth(): void
  /** The token of the upgrade or of the pre-auth message was verified (the socket is still in pre-auth). */
  protected abstract verified(result: VerifyResult): void
  /** A frame for what was admitted. */
  protected abstract liveFrame(live: L, data: RawData, isBinary: boolean, size: number): void
  /** Whether `live` counts as an open connection. */
  protected abstract liveIsOpen(live: L): boolean
  /** The open socket's `access` label in the connections gauge. */
  protected abstract gaugeAccess(live: L): ConnectionAccess
  /** Right before the socket ends (open or not): what tells the client the error, if anything. */
  protected abstract beforeEnd(live: L): { send(message: Uint8Array): void } | null
  /** The socket ended: `live` lets go of its documents. */
  protected abstract closeLive(live: L): void
  abstract countAccess(counts: Record<Access, number>): void

  /** The socket's logger (`conn`, and the subclass's context), made when first used. */
  get log(): Logger {
    return (this.logger ??= this.hub.logger.child({ conn: this.id, ...this.logContext() }))
  }

  /** The context changed (e.g. the document is known): the next log line makes the logger again. */
  protected relog(): void {
    this.logger = null
  }

  get debugEnabled(): boolean {
    return this.hub.logger.isLevelEnabled('debug')
  }

  /** A debug line (the logger is not made for it unless debug is on). */
  protected debug(obj: object, msg: string): void {
    if (this.debugEnabled) this.log.debug(obj, msg)
  }

  get isOpen(): boolean {
    return this.state.kind === 'admitted' && this.liveIsOpen(this.state.live)
  }

  protected get isEnded(): boolean {
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
    if (!this.accepts(url)) return
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
      this.admitWithoutAuth()
      return
    }
    this.gate = new AuthGate({ authenticator, preAuth: options.preAuth, limits: this.hub.decodeLimits, metrics: this.hub.metrics })
    if (admission.verified !== null) {
      this.verified(admission.verified)
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

  /**
   * Leaves pre-auth with `claims` (null: auth is off): `make` gets the frames
   * held meanwhile. Returns what it made, or null when the socket is not in
   * pre-auth any more or ended at once (a token that expired on arrival).
   */
  protected admit(claims: TokenClaims | null, make: (held: QueuedFrame[], heldBytes: number) => L): L | null {
    if (this.state.kind !== 'pre-auth') return null
    const { held, heldBytes } = this.state
    this.gate?.endPreAuth()
    this.claims = claims
    const live = make(held, heldBytes)
    this.state = { kind: 'admitted', live }
    if (claims !== null) this.armExpiry(claims)
    else this.schedule()
    return this.isEnded ? null : live
  }

  /** The socket opened: it counts as a connection from now on, and may be written to. */
  protected joined(access: ConnectionAccess): void {
    const { metrics } = this.hub
    this.writer = new SocketWriter(this.socket, this, this.hub.options.maxBufferedBytes, metrics)
    metrics.connectionsAccepted.inc()
    metrics.connections.inc({ access })
    const sub = this.claims?.sub
    this.debug({ access, ip: this.ip, ...(sub !== undefined ? { sub } : {}) }, 'connection opened')
  }

  /** The token of the upgrade or the pre-auth message refused: the socket is refused with its code. */
  protected denied(denial: AuthDenial): void {
    this.end(denial.closed, denial.end)
  }

  /**
   * A token on the live socket: once verified (and not superseded), `apply`
   * judges it: it applies a token it keeps and returns null (the token's
   * claims and expiry replace the previous ones), or returns the denial that
   * ends the socket.
   */
  protected refresh(token: string, apply: (result: VerifyResult) => AuthDenial | null): void {
    const gate = this.gate
    if (gate === null) return // no auth: ignored
    void gate.refresh(token).then((result) => {
      if (result === null || this.state.kind !== 'admitted') return
      const denial = apply(result)
      if (denial !== null) {
        this.end(denial.closed, { error: denial.end.error, closeCode: denial.end.closeCode })
        return
      }
      if (!result.ok) return // a failed verification is always denied
      this.claims = result.claims
      this.armExpiry(result.claims)
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
        this.liveFrame(state.live, data, isBinary, size)
        return
      case 'ended':
        return // a frame that raced the close
    }
  }

  private preAuthFrame(state: Extract<SocketState<L>, { kind: 'pre-auth' }>, data: RawData, isBinary: boolean, size: number): void {
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
        void step.result.then((result) => {
          if (this.state.kind === 'pre-auth') this.verified(result)
        })
    }
  }

  /** Ends the socket because of `error` (its close reason follows from its code). */
  reject(error: RelayError, closeCode: number): void {
    this.end(closeReasonOf(error.code), { error, closeCode })
  }

  /** The writer destroyed the socket: the peer does not read fast enough. */
  slowConsumer(): void {
    this.end('slow_consumer')
  }

  /**
   * Ends the socket, once (false if already ended). Before it opened it is a
   * refusal (counted by `error.refused`); once open, `reason` is the close
   * reason (unless an earlier cause is known) and a Meridian client is told `error` first.
   */
  end(reason: SilentEnd): boolean
  end(reason: CloseReason, error: SocketError): boolean
  end(reason: CloseReason, error?: SocketError): boolean {
    const state = this.state
    if (state.kind === 'ended') return false
    const live = state.kind === 'admitted' ? state.live : null
    const open = live !== null && this.liveIsOpen(live)
    const why = open ? (this.closeHint ?? reason) : reason
    this.state = { kind: 'ended', live }
    this.clearTimers()
    const ctx = { socket: this.socket, logs: this, metrics: this.hub.metrics, clock: this.clock }
    const tell = live === null ? null : this.beforeEnd(live)
    if (error === undefined) endSilently(ctx, reason as SilentEnd)
    else if (open) endOpen(ctx, error, tell)
    else endRefused(ctx, error, reason, this.ip)
    if (live === null) return true
    if (open) {
      const { metrics } = this.hub
      this.debug({ reason: why }, 'connection closed')
      metrics.connections.dec({ access: this.gaugeAccess(live) })
      metrics.connectionsClosed.inc({ reason: why })
    }
    this.closeLive(live)
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

  protected count(reason: RejectReason): void {
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
