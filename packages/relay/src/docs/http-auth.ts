/**
 * Who may call the document API (`/v1/docs...`), one decision per request.
 *
 * Contract of `authorizeDocRequest(request, docName, access)`:
 * - `docName` is the (already validated) document the request reads or writes,
 *   or null for a request about many documents (a listing, a relay-wide feed):
 *   the caller then filters with the decision's `canRead` / `canWrite`.
 * - `access` is what the request needs: 'read' for reads, 'write' for writes
 *   (write includes read), the same rules as a document socket (auth.ts).
 * - Credentials: `Authorization: Bearer <token>`, where the token is the
 *   relay's admin token (full access) or, with JWT auth, a JWT whose `docs`
 *   grants cover the document; it is checked against the revocation list like
 *   a socket's. With auth off and no admin token, everyone may do everything
 *   (as on sockets), and the decision is `{ kind: 'open' }`.
 * - Resolves with the decision; rejects with a RelayError whose code says why:
 *   ERR_AUTH_REQUIRED (no token), ERR_AUTH_INVALID / ERR_AUTH_EXPIRED /
 *   ERR_AUTH_REVOKED (a token that does not verify), ERR_AUTH_FORBIDDEN (the
 *   grants do not cover the document, or the request is admin-only). The API's
 *   error handler (http-errors.ts) turns those into 401/403 responses.
 * - Every decision carries `stillValid()`: for a long response (a change-feed
 *   stream) it turns false once the token expired or was revoked, as a socket
 *   would be closed then; always true for the admin token and with auth off.
 * - `checkDocRequest` is the same check for routes that answer themselves
 *   (the change feed, the version routes): it resolves `{ ok: false, status,
 *   code, message }` instead of rejecting.
 * - `installDocAuth(app, deps)` must have been called once on the relay's
 *   Fastify instance (server.ts does); the routes under `/v1/docs` are left
 *   out of the admin-only guard (admin-auth.ts) because this check replaces it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { accessFor, secretEquals, type Access, type Authenticator, type CompiledGrant, type TokenClaims } from '../auth.js'
import { RelayError, isRelayError, type RelayErrorCode } from '../errors.js'
import { HTTP_STATUS } from './http-errors.js'

export interface DocAuthDeps {
  /** The admin token, if configured. */
  adminToken: string | undefined
  /** The relay's JWT verifier (with its revocation list), or null when auth is off. */
  authenticator: Authenticator | null
}

interface DecisionBase {
  actor: string
  canRead: (docName: string) => boolean
  canWrite: (docName: string) => boolean
  /** False once the token expired or was revoked (long responses end then). */
  stillValid: () => boolean
}

export type DocRequestAuth =
  | ({ kind: 'open' } & DecisionBase)
  | ({ kind: 'admin' } & DecisionBase)
  | ({ kind: 'token'; claims: TokenClaims } & DecisionBase)

/** `checkDocRequest`'s answer: the decision, or why not with the HTTP status to answer. */
export type DocAuthResult =
  | ({ ok: true } & DocRequestAuth)
  | { ok: false; status: number; code: RelayErrorCode; message: string }

const depsByApp = new WeakMap<object, DocAuthDeps>()
const everything = (): boolean => true
const always = (): boolean => true

/** Makes the relay's credentials known to `authorizeDocRequest` for every route of `app` (and its plugins). */
export function installDocAuth(app: FastifyInstance, deps: DocAuthDeps): void {
  // Keyed by the Node server: the same object in every encapsulated plugin of the app.
  depsByApp.set(app.server, deps)
}

/** Routes whose authorization is `authorizeDocRequest` rather than the admin token alone. */
export const isDocApiRoute = (pattern: string): boolean => pattern === '/v1/docs' || pattern.startsWith('/v1/docs/')

export async function authorizeDocRequest(request: FastifyRequest, docName: string | null, access: Access): Promise<DocRequestAuth> {
  const deps = depsByApp.get(request.server.server)
  if (deps === undefined) throw new RelayError('ERR_RELAY_OPTIONS', 'installDocAuth was not called')
  const { adminToken, authenticator } = deps
  const header = request.headers.authorization
  const presented = typeof header === 'string' && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '').trim() : null
  if (presented !== null && adminToken !== undefined && secretEquals(presented, adminToken)) {
    return { kind: 'admin', actor: 'admin', canRead: everything, canWrite: everything, stillValid: always }
  }
  if (authenticator === null) {
    if (adminToken === undefined) return { kind: 'open', actor: 'anonymous', canRead: everything, canWrite: everything, stillValid: always }
    throw new RelayError(presented === null ? 'ERR_AUTH_REQUIRED' : 'ERR_AUTH_INVALID', 'the admin token is required')
  }
  if (presented === null) throw new RelayError('ERR_AUTH_REQUIRED')
  const verified = await authenticator.verify(presented)
  if (!verified.ok) throw new RelayError(verified.code, verified.detail)
  const grants: readonly CompiledGrant[] = verified.grants
  const canRead = (name: string): boolean => accessFor(grants, name) !== null
  const canWrite = (name: string): boolean => accessFor(grants, name) === 'write'
  if (docName !== null && !(access === 'write' ? canWrite(docName) : canRead(docName))) {
    throw new RelayError('ERR_AUTH_FORBIDDEN', `the token does not grant ${access} on this document`)
  }
  const { claims } = verified
  const revocations = authenticator.revocations
  const stillValid = (): boolean => (claims.exp === undefined || Date.now() < claims.exp * 1000) && !revocations.isRevoked(claims)
  return { kind: 'token', actor: claims.sub ?? 'token', claims, canRead, canWrite, stillValid }
}

/** `authorizeDocRequest` for routes that answer themselves: resolves the refusal instead of rejecting. */
export async function checkDocRequest(request: FastifyRequest, docName: string | null, access: Access): Promise<DocAuthResult> {
  try {
    return { ok: true, ...(await authorizeDocRequest(request, docName, access)) }
  } catch (err) {
    if (!isRelayError(err)) throw err
    return { ok: false, status: HTTP_STATUS[err.code], code: err.code, message: err.message }
  }
}
