/**
 * The auth gate of one document socket: the bounded pre-auth phase (frames,
 * bytes on the wire, time) until the first `auth-token` message is verified,
 * the token's expiry, and refreshes on the live socket. It verifies; the
 * socket owner (socket-owner.ts) judges the result for what it serves — one
 * document (verdictFor) or a multiplexed socket (connectionVerdict, then
 * verdictFor per document) — so every refusal ends the socket through the
 * owner's one `end`.
 */
import { tryDecodeMessage, type DecodeLimits, type Message } from '@meridian/protocol'
import type { RawData } from 'ws'
import { CLOSE_CODES, RelayError } from './errors.js'
import { accessFor, type Access, type AuthFailureCode, type Authenticator, type CompiledGrant, type TokenClaims, type VerifyResult } from './auth.js'
import { WireBudget, type WireSocket } from './wire-budget.js'
import { refusal, type SocketError } from './connection-end.js'
import { toBytes } from './frames.js'
import type { CloseReason, RefuseReason, RejectReason, RelayMetrics } from './metrics.js'

/** A refused token: how the socket (or a multiplexed document) is refused, and its close reason once live. */
export interface AuthDenial { readonly kind: 'deny'; readonly end: SocketError; readonly closed: CloseReason }

/** What a verified (or refused) token means for one document. */
export type AuthVerdict =
  | { readonly kind: 'admit'; readonly access: Access; readonly claims: TokenClaims | null }
  | AuthDenial

/** What a verified (or refused) token means for a multiplexed socket: its grants are checked per document later. */
export type ConnectionVerdict =
  | { readonly kind: 'admit'; readonly claims: TokenClaims; readonly grants: readonly CompiledGrant[] }
  | AuthDenial

/** What to do with one frame that came before the token was verified. */
export type PreAuthStep =
  /** Keep it (decoded) for the document once admitted: a hello before the token, anything pipelined after it. */
  | { readonly kind: 'hold'; readonly message: Message }
  /** The token is being verified: the result follows. */
  | { readonly kind: 'verify'; readonly result: Promise<VerifyResult> }
  /** Refuse the socket; `rejected` is the rejected-messages reason to count, if any. */
  | { readonly kind: 'refuse'; readonly end: SocketError; readonly rejected: RejectReason | null }

/** Each verification failure: its close code, refused-connections reason (pre-auth) and close reason (live). */
const AUTH_FAILURES: Record<AuthFailureCode | 'ERR_AUTH_FORBIDDEN', { close: number; refused: RefuseReason; closed: CloseReason }> = {
  ERR_AUTH_INVALID: { close: CLOSE_CODES.UNAUTHENTICATED, refused: 'invalid_token', closed: 'expired' },
  ERR_AUTH_EXPIRED: { close: CLOSE_CODES.TOKEN_EXPIRED, refused: 'expired', closed: 'expired' },
  ERR_AUTH_REVOKED: { close: CLOSE_CODES.TOKEN_REVOKED, refused: 'revoked', closed: 'revoked' },
  ERR_AUTH_FORBIDDEN: { close: CLOSE_CODES.FORBIDDEN, refused: 'forbidden', closed: 'revoked' }
}

/** What a verification result grants on `docName`. */
export function verdictFor(result: VerifyResult, docName: string): AuthVerdict {
  if (!result.ok) return deny(result.code, result.detail)
  return grantFor(result.grants, result.claims, docName)
}

/** What a verified token's `grants` give on `docName`: its access, or forbidden. */
export function grantFor(grants: readonly CompiledGrant[], claims: TokenClaims, docName: string): AuthVerdict {
  const access = accessFor(grants, docName)
  if (access === null) return deny('ERR_AUTH_FORBIDDEN')
  return { kind: 'admit', access, claims }
}

/** What a verification result means for a multiplexed socket: a token that verifies is admitted, whatever it grants. */
export function connectionVerdict(result: VerifyResult): ConnectionVerdict {
  return result.ok ? { kind: 'admit', claims: result.claims, grants: result.grants } : deny(result.code, result.detail)
}

function deny(code: AuthFailureCode | 'ERR_AUTH_FORBIDDEN', detail?: string): AuthDenial {
  const failure = AUTH_FAILURES[code]
  return { kind: 'deny', end: refusal(code, failure.close, failure.refused, detail), closed: failure.closed }
}

export interface AuthGateOptions {
  authenticator: Authenticator
  preAuth: { maxFrames: number; maxBytes: number }
  /** The decoder's limits: the live connection's, so a frame held here is decoded once, as it would be there. */
  limits: DecodeLimits
  metrics: RelayMetrics
}

export class AuthGate {
  private preAuthFrames = 0
  private preAuthBytes = 0
  private verifying = false
  private refreshSeq = 0
  /** While unauthenticated: the count of bytes read from the TCP socket. */
  private wire: WireBudget | null = null
  /** When the token (with the clock tolerance) expires; null: no expiry. */
  expiresAt: number | null = null
  /** When the pre-auth phase runs out; null: not in it. */
  preAuthEndsAt: number | null = null

  constructor(private readonly o: AuthGateOptions) {}

  /** No token in the upgrade: the first auth message must bring one by `endsAt`, within the budget. */
  startPreAuth(endsAt: number, wire: WireSocket | null, onWireExceeded: () => void): void {
    this.preAuthEndsAt = endsAt
    if (wire === null) return
    const { maxBytes, maxFrames } = this.o.preAuth
    // Bytes read from the TCP socket count as they arrive, partial frames included (wire-budget.ts).
    this.wire = new WireBudget(wire, WireBudget.allowance(maxBytes, maxFrames), onWireExceeded)
  }

  /** Admitted or gone: the pre-auth deadline and byte count stop. */
  endPreAuth(): void {
    this.preAuthEndsAt = null
    this.wire?.stop()
    this.wire = null
  }

  /** The refusal of a socket whose wire bytes went over the pre-auth budget. */
  static readonly WIRE_EXCEEDED: SocketError = Object.freeze({
    ...refusal('ERR_AUTH_TIMEOUT', CLOSE_CODES.AUTH_TIMEOUT, 'auth_timeout', 'pre-auth byte budget exceeded (partial frames included)'),
    stopReading: true
  })

  /** One frame before the token was verified: counted against the budget and decoded once. */
  preAuthFrame(data: RawData, isBinary: boolean, size: number): PreAuthStep {
    const { preAuth, limits } = this.o
    this.preAuthFrames++
    this.preAuthBytes += size
    if (this.preAuthFrames > preAuth.maxFrames || this.preAuthBytes > preAuth.maxBytes) {
      return refuse('pre_auth_budget', 'ERR_AUTH_TIMEOUT', CLOSE_CODES.AUTH_TIMEOUT, 'auth_timeout', 'pre-auth budget exceeded')
    }
    if (!isBinary) return refuse('text_frame', 'ERR_PROTOCOL', CLOSE_CODES.UNSUPPORTED_DATA, 'pre_auth_invalid', 'text frame')
    const decoded = tryDecodeMessage(toBytes(data), limits)
    if (!decoded.ok) return refuse('malformed', 'ERR_PROTOCOL', CLOSE_CODES.INVALID_MESSAGE, 'pre_auth_invalid', decoded.error.code)
    const message = decoded.message
    if (message.type !== 'auth-token' || this.verifying) {
      // Before the auth message only a hello may come (kept for later); once it is being
      // verified, anything (pipelined sync messages). Bounded by the budget above.
      if (!this.verifying && message.type !== 'hello') return refuse(null, 'ERR_AUTH_REQUIRED', CLOSE_CODES.UNAUTHENTICATED, 'no_token')
      return { kind: 'hold', message }
    }
    this.verifying = true
    return {
      kind: 'verify',
      result: this.verify(message.token).then((result) => {
        this.verifying = false
        return result
      })
    }
  }

  /** Verifies a token (what it grants is for the socket owner to judge). */
  async verify(token: string): Promise<VerifyResult> {
    this.o.metrics.tokenVerifications.inc()
    return this.o.authenticator.verify(token)
  }

  /** A new token on a live socket; resolves with null when a later refresh superseded this one. */
  async refresh(token: string): Promise<VerifyResult | null> {
    const seq = ++this.refreshSeq
    const result = await this.verify(token)
    return seq === this.refreshSeq ? result : null
  }

  /** Sets the expiry from the token (replacing the previous one); returns whether it has already passed. */
  armExpiry(claims: TokenClaims, now: number): boolean {
    this.expiresAt = claims.exp === undefined ? null : claims.exp * 1000 + this.o.authenticator.config.clockToleranceMs
    return this.expiresAt !== null && this.expiresAt <= now
  }

  /** The earliest of the gate's deadlines, or Infinity. */
  nextDeadline(): number {
    const expires = this.expiresAt ?? Number.POSITIVE_INFINITY
    const preAuth = this.preAuthEndsAt ?? Number.POSITIVE_INFINITY
    return Math.min(expires, preAuth)
  }

  /** Which of the gate's deadlines passed at `now` (each is reported once), if any. */
  due(now: number, inPreAuth: boolean): 'pre-auth' | 'expired' | null {
    if (this.preAuthEndsAt !== null && now >= this.preAuthEndsAt) {
      this.preAuthEndsAt = null
      if (inPreAuth) return 'pre-auth'
    }
    if (this.expiresAt !== null && now >= this.expiresAt) {
      this.expiresAt = null
      return 'expired'
    }
    return null
  }

  /** No deadline applies any more (the socket ended). */
  clear(): void {
    this.expiresAt = this.preAuthEndsAt = null
  }
}

function refuse(rejected: RejectReason | null, code: 'ERR_AUTH_TIMEOUT' | 'ERR_PROTOCOL' | 'ERR_AUTH_REQUIRED', closeCode: number, refused: RefuseReason, detail?: string): PreAuthStep {
  return { kind: 'refuse', end: refusal(code, closeCode, refused, detail), rejected }
}

/** The pre-auth timeout's refusal. */
export const PRE_AUTH_TIMEOUT: SocketError = Object.freeze(refusal('ERR_AUTH_TIMEOUT', CLOSE_CODES.AUTH_TIMEOUT, 'auth_timeout'))

/** The live expiry's end. */
export function expiredEnd(): SocketError {
  return { error: new RelayError('ERR_AUTH_EXPIRED'), closeCode: CLOSE_CODES.TOKEN_EXPIRED }
}
