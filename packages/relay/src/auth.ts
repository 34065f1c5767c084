/**
 * Authentication and authorization of document connections.
 *
 * Tokens are JWTs, signed with an HS256 shared secret or with an EdDSA
 * (Ed25519) or ES256 (P-256) private key whose public key the relay knows.
 * Claims (see README, "Operating a relay"):
 *
 *     { "sub": "alice", "docs": [{ "pattern": "team-1/*", "access": "write" }],
 *       "exp": 1767225600, "iat": 1767222000, "jti": "…" }
 *
 * `docs` grants document-name patterns (glob.ts) with `read` or `write`
 * (write includes read); the most permissive matching grant wins.
 */
import { liveDocNameOf } from '@meridian/history'
import { KeyObject, createPrivateKey, createPublicKey, createSecretKey, randomUUID, timingSafeEqual, type JsonWebKey } from 'node:crypto'
import { SignJWT, jwtVerify, type JWTPayload } from 'jose'
import { compileGlob, matchGlob, type CompiledGlob } from './glob.js'
import { RelayError } from './errors.js'

export type Access = 'read' | 'write'

export interface DocGrant {
  /** Document-name glob: `*` within a path segment, `**` across segments. */
  pattern: string
  access: Access
}

/** What the relay keeps of a verified token. */
export interface TokenClaims {
  sub: string | undefined
  jti: string | undefined
  /** Seconds since the epoch, as in the JWT. */
  iat: number | undefined
  exp: number | undefined
  docs: DocGrant[]
}

export interface JwtAuthOptions {
  mode: 'jwt'
  /** HS256 shared secret, at least 32 bytes. */
  secret?: string | Uint8Array
  /**
   * EdDSA (Ed25519) or ES256 (P-256) public keys: PEM text, a JWK (object or
   * JSON text) or a KeyObject. Several keys allow rotation; a token whose header
   * has a `kid` is checked only against the key with that `kid`, if there is one.
   */
  publicKeys?: (string | JsonWebKey | KeyObject)[]
  /** Required `iss`, if set. */
  issuer?: string
  /** Required `aud`, if set. */
  audience?: string
  /** Tolerated clock difference for `exp`, `nbf` and `iat`. Default 30 s. */
  clockToleranceMs?: number
  /** Refuse tokens without `exp`. Default true. */
  requireExpiry?: boolean
}

/** `none`: anyone who reaches the relay reads and writes every document. */
export type AuthOptions = { mode: 'none' } | JwtAuthOptions

export type PublicKeyAlg = 'EdDSA' | 'ES256'

export interface ResolvedJwtAuth {
  mode: 'jwt'
  hmacKey: KeyObject | null
  publicKeys: { key: KeyObject; alg: PublicKeyAlg; kid: string | undefined }[]
  issuer: string | undefined
  audience: string | undefined
  clockToleranceMs: number
  requireExpiry: boolean
}

export type ResolvedAuth = { mode: 'none' } | ResolvedJwtAuth

export const DEFAULT_CLOCK_TOLERANCE_MS = 30_000
/** Longest token accepted, in bytes (a JWT with a few dozen grants is well under 4 KiB). */
export const MAX_TOKEN_BYTES = 8 * 1024
/** Most grants one token may carry. */
export const MAX_GRANTS = 64

const MIN_SECRET_BYTES = 32

const optionsError = (message: string): RelayError => new RelayError('ERR_RELAY_OPTIONS', message)

/** Works out the algorithm from the key itself, so a key can only ever verify its own kind of signature. */
export function keyAlgorithm(key: KeyObject): PublicKeyAlg {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  throw optionsError(`unsupported key type ${String(key.asymmetricKeyType)}: use Ed25519 (EdDSA) or P-256 (ES256)`)
}

function importKey(input: string | JsonWebKey | KeyObject, kind: 'public' | 'private'): { key: KeyObject; kid: string | undefined } {
  const fromJwk = (jwk: JsonWebKey): { key: KeyObject; kid: string | undefined } => ({
    key: kind === 'public' ? createPublicKey({ key: jwk, format: 'jwk' }) : createPrivateKey({ key: jwk, format: 'jwk' }),
    kid: typeof jwk.kid === 'string' ? jwk.kid : undefined
  })
  try {
    if (typeof input === 'string') {
      const text = input.trim()
      if (text.startsWith('{')) return fromJwk(JSON.parse(text) as JsonWebKey)
      return { key: kind === 'public' ? createPublicKey(text) : createPrivateKey(text), kid: undefined }
    }
    if (input instanceof KeyObject) {
      const key = input
      return { key: kind === 'public' && key.type === 'private' ? createPublicKey(key) : key, kid: undefined }
    }
    return fromJwk(input as JsonWebKey)
  } catch (cause) {
    throw new RelayError('ERR_RELAY_OPTIONS', `could not read a ${kind} key (PEM or JWK expected)`, { cause })
  }
}

function secretKey(secret: string | Uint8Array): KeyObject {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret)
  if (bytes.length < MIN_SECRET_BYTES) throw optionsError(`the JWT secret must be at least ${MIN_SECRET_BYTES} bytes`)
  return createSecretKey(bytes)
}

export function resolveAuthOptions(auth: AuthOptions | undefined): ResolvedAuth {
  if (auth === undefined || auth.mode === 'none') return { mode: 'none' }
  if (auth.mode !== 'jwt') throw optionsError(`auth.mode must be 'none' or 'jwt'`)
  const hmacKey = auth.secret === undefined ? null : secretKey(auth.secret)
  const publicKeys = (auth.publicKeys ?? []).map((input) => {
    const { key, kid } = importKey(input, 'public')
    return { key, kid, alg: keyAlgorithm(key) }
  })
  if (hmacKey === null && publicKeys.length === 0) throw optionsError('auth.mode jwt needs a secret or at least one public key')
  const clockToleranceMs = auth.clockToleranceMs ?? DEFAULT_CLOCK_TOLERANCE_MS
  if (!Number.isSafeInteger(clockToleranceMs) || clockToleranceMs < 0) throw optionsError('auth.clockToleranceMs must be an integer >= 0')
  return {
    mode: 'jwt',
    hmacKey,
    publicKeys,
    issuer: auth.issuer,
    audience: auth.audience,
    clockToleranceMs,
    requireExpiry: auth.requireExpiry ?? true
  }
}

export type AuthFailureCode = 'ERR_AUTH_INVALID' | 'ERR_AUTH_EXPIRED' | 'ERR_AUTH_REVOKED'
export type VerifyResult =
  | { ok: true; claims: TokenClaims; grants: CompiledGrant[] }
  | { ok: false; code: AuthFailureCode; detail: string }

export interface CompiledGrant { glob: CompiledGlob; access: Access }

/**
 * Revoked tokens, in memory: by `jti` (that one token), or by `sub` (every
 * token of that subject issued up to the revocation plus the clock tolerance,
 * so a token dated a little ahead does not slip past it; tokens minted later
 * work, and tokens dated further ahead are refused by the Authenticator).
 * Bounded: past `capacity` entries the oldest are dropped. Persisted and
 * shared by revocation-store.ts.
 */
export class RevocationList {
  private readonly byJti = new Map<string, number>()
  private readonly bySub = new Map<string, number>()
  constructor(private readonly capacity = 100_000, private readonly toleranceMs = DEFAULT_CLOCK_TOLERANCE_MS) {}

  revoke(match: { jti?: string; sub?: string }, atMs = Date.now()): void {
    if (match.jti !== undefined) this.add(this.byJti, match.jti, atMs)
    if (match.sub !== undefined) this.add(this.bySub, match.sub, atMs)
  }

  isRevoked(claims: Pick<TokenClaims, 'jti' | 'sub' | 'iat'>): boolean {
    if (claims.jti !== undefined && this.byJti.has(claims.jti)) return true
    if (claims.sub === undefined) return false
    const at = this.bySub.get(claims.sub)
    return at !== undefined && (claims.iat === undefined || claims.iat * 1000 <= at + this.toleranceMs)
  }

  /** When `jti` / `sub` was revoked (ms since the epoch), if it was. */
  revokedAt(kind: 'jti' | 'sub', key: string): number | undefined {
    return (kind === 'jti' ? this.byJti : this.bySub).get(key)
  }

  get size(): number {
    return this.byJti.size + this.bySub.size
  }

  private add(map: Map<string, number>, key: string, atMs: number): void {
    // The later revocation wins (the same one may arrive again from storage or another relay).
    const previous = map.get(key)
    map.delete(key)
    map.set(key, previous === undefined ? atMs : Math.max(previous, atMs))
    while (map.size > this.capacity) {
      const oldest = map.keys().next()
      if (oldest.done === true) break
      map.delete(oldest.value)
    }
  }
}

function parseGrants(payload: JWTPayload): { docs: DocGrant[]; grants: CompiledGrant[] } | null {
  const raw = payload.docs
  if (!Array.isArray(raw) || raw.length > MAX_GRANTS) return null
  const docs: DocGrant[] = []
  const grants: CompiledGrant[] = []
  for (const entry of raw as unknown[]) {
    if (entry === null || typeof entry !== 'object') return null
    const { pattern, access } = entry as { pattern?: unknown; access?: unknown }
    if (typeof pattern !== 'string' || (access !== 'read' && access !== 'write')) return null
    let glob: CompiledGlob
    try {
      glob = compileGlob(pattern)
    } catch {
      return null
    }
    docs.push({ pattern, access })
    grants.push({ glob, access })
  }
  return { docs, grants }
}

const optionalString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const optionalNumber = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

/** Verifies tokens against the configured keys and the revocation list. Never throws. */
export class Authenticator {
  constructor(readonly config: ResolvedJwtAuth, readonly revocations: RevocationList) {}

  async verify(token: string): Promise<VerifyResult> {
    if (typeof token !== 'string' || token.length === 0) return { ok: false, code: 'ERR_AUTH_INVALID', detail: 'empty token' }
    if (Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES) return { ok: false, code: 'ERR_AUTH_INVALID', detail: 'token too long' }
    const candidates = this.keysFor(token)
    if (candidates.length === 0) return { ok: false, code: 'ERR_AUTH_INVALID', detail: 'no key for this token' }
    const required: string[] = this.config.requireExpiry ? ['exp'] : []
    let lastDetail = 'signature verification failed'
    for (const { key, alg } of candidates) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [alg],
          clockTolerance: Math.floor(this.config.clockToleranceMs / 1000),
          requiredClaims: required,
          ...(this.config.issuer !== undefined ? { issuer: this.config.issuer } : {}),
          ...(this.config.audience !== undefined ? { audience: this.config.audience } : {})
        })
        // jose checks `iat` only for a maximum age: a token dated ahead of now would be issued
        // "after" any revocation by subject. Such a token is refused until its time comes.
        if (typeof payload.iat === 'number' && payload.iat * 1000 > Date.now() + this.config.clockToleranceMs) {
          return { ok: false, code: 'ERR_AUTH_INVALID', detail: 'iat is in the future' }
        }
        const parsed = parseGrants(payload)
        if (parsed === null) return { ok: false, code: 'ERR_AUTH_INVALID', detail: 'malformed docs claim' }
        const claims: TokenClaims = {
          sub: optionalString(payload.sub),
          jti: optionalString(payload.jti),
          iat: optionalNumber(payload.iat),
          exp: optionalNumber(payload.exp),
          docs: parsed.docs
        }
        if (this.revocations.isRevoked(claims)) return { ok: false, code: 'ERR_AUTH_REVOKED', detail: 'token revoked' }
        return { ok: true, claims, grants: parsed.grants }
      } catch (err) {
        const code = (err as { code?: unknown }).code
        // The signature was good (jose checks claims only after it): no other key can do better.
        if (code === 'ERR_JWT_EXPIRED') return { ok: false, code: 'ERR_AUTH_EXPIRED', detail: 'token expired' }
        if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
          return { ok: false, code: 'ERR_AUTH_INVALID', detail: `claim check failed: ${String((err as { claim?: unknown }).claim)}` }
        }
        lastDetail = typeof code === 'string' ? code : 'verification failed'
      }
    }
    return { ok: false, code: 'ERR_AUTH_INVALID', detail: lastDetail }
  }

  /** Keys whose algorithm matches the token header's `alg` (and `kid`, when keys have ids). */
  private keysFor(token: string): { key: KeyObject; alg: string }[] {
    const header = decodeHeader(token)
    if (header === null) return []
    if (header.alg === 'HS256') return this.config.hmacKey === null ? [] : [{ key: this.config.hmacKey, alg: 'HS256' }]
    const alg = header.alg === 'Ed25519' ? 'EdDSA' : header.alg
    const sameAlg = this.config.publicKeys.filter((k) => k.alg === alg)
    const byKid = header.kid === undefined ? [] : sameAlg.filter((k) => k.kid === header.kid)
    return (byKid.length > 0 ? byKid : sameAlg).map((k) => ({ key: k.key, alg: header.alg as string }))
  }
}

function decodeHeader(token: string): { alg: string | undefined; kid: string | undefined } | null {
  const dot = token.indexOf('.')
  if (dot <= 0 || dot > 1024) return null
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as unknown
    if (header === null || typeof header !== 'object') return null
    const { alg, kid } = header as { alg?: unknown; kid?: unknown }
    return { alg: optionalString(alg), kid: optionalString(kid) }
  } catch {
    return null
  }
}

/**
 * The access a token's grants give on `docName`: write wins over read; null
 * when nothing matches. A history document (`_meridian/history/X`) has X's
 * access: read lists and opens versions, write adds them.
 */
export function accessFor(grants: readonly CompiledGrant[], docName: string): Access | null {
  docName = liveDocNameOf(docName) ?? docName
  let access: Access | null = null
  for (const grant of grants) {
    if (access === 'write' || (access === 'read' && grant.access === 'read')) continue
    if (matchGlob(grant.glob, docName)) access = grant.access
  }
  return access
}

/** Constant-time comparison of a presented secret with the configured one. */
export function secretEquals(presented: string, expected: string): boolean {
  const a = Buffer.from(presented, 'utf8')
  const b = Buffer.from(expected, 'utf8')
  // Compare equal-length buffers only, without revealing the length through timing of the content check.
  const padded = Buffer.alloc(b.length)
  a.copy(padded, 0, 0, Math.min(a.length, b.length))
  return timingSafeEqual(padded, b) && a.length === b.length
}

export interface MintTokenOptions {
  /** HS256 shared secret; or */
  secret?: string | Uint8Array
  /** an Ed25519 or P-256 private key (PEM, JWK or KeyObject) for EdDSA / ES256. */
  privateKey?: string | JsonWebKey | KeyObject
  /** `kid` header, to pick the key among several on the relay. */
  kid?: string
  sub?: string
  docs: DocGrant[]
  /** Lifetime in seconds. */
  ttlSeconds: number
  issuer?: string
  audience?: string
  /** Default: a random UUID, so the token can be revoked on its own. */
  jti?: string
  /** Mint as of this time (ms since the epoch); default now. */
  nowMs?: number
}

/** Mints a token the relay accepts (the `mint-token` CLI subcommand, tests, local tools). */
export async function mintToken(options: MintTokenOptions): Promise<string> {
  if (!Array.isArray(options.docs) || options.docs.length === 0 || options.docs.length > MAX_GRANTS) {
    throw new TypeError(`docs must list 1 to ${MAX_GRANTS} grants`)
  }
  for (const d of options.docs) {
    compileGlob(d.pattern)
    if (d.access !== 'read' && d.access !== 'write') throw new TypeError(`access must be read or write, got ${String(d.access)}`)
  }
  if (!Number.isFinite(options.ttlSeconds) || options.ttlSeconds <= 0) throw new TypeError('ttlSeconds must be > 0')
  let key: KeyObject
  let alg: string
  if (options.secret !== undefined) {
    key = secretKey(options.secret)
    alg = 'HS256'
  } else if (options.privateKey !== undefined) {
    key = importKey(options.privateKey, 'private').key
    alg = keyAlgorithm(key)
  } else {
    throw new TypeError('mintToken needs a secret or a private key')
  }
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000)
  const jwt = new SignJWT({ docs: options.docs.map((d) => ({ pattern: d.pattern, access: d.access })) })
    .setProtectedHeader(options.kid === undefined ? { alg, typ: 'JWT' } : { alg, typ: 'JWT', kid: options.kid })
    .setIssuedAt(now)
    .setExpirationTime(now + Math.ceil(options.ttlSeconds))
    .setJti(options.jti ?? randomUUID())
  if (options.sub !== undefined) jwt.setSubject(options.sub)
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer)
  if (options.audience !== undefined) jwt.setAudience(options.audience)
  return jwt.sign(key)
}
