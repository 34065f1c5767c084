/**
 * Who may read or write a document over HTTP (`/v1/docs/...`): the admin token,
 * or a Bearer JWT verified by the relay's authenticator whose grants cover the
 * document (read for reads, write for writes) — the same rules as sockets. With
 * auth off (`mode: 'none'`) everyone may, as on sockets.
 * `installDocAuth(app, deps)` once at build time; then
 * `authorizeDocRequest(request, docName, access)` in each route.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { accessFor, secretEquals, type Access, type Authenticator } from '../auth.js'
import type { RelayErrorCode } from '../errors.js'

export interface DocAuthDeps {
  adminToken: string | undefined
  /** Null when auth is off. */
  authenticator: Authenticator | null
}

export type DocAuthResult =
  | {
      ok: true
      via: 'admin' | 'token' | 'open'
      /**
       * For a long response (a change-feed stream): false once the token has
       * expired or was revoked, as a socket would be closed then. Always true
       * for the admin token and with auth off.
       */
      stillValid: () => boolean
    }
  | { ok: false; status: 401 | 403; code: RelayErrorCode; message: string }

declare module 'fastify' {
  interface FastifyInstance {
    /** Set by installDocAuth; inherited by every plugin context. */
    meridianDocAuth?: DocAuthDeps
  }
}

export function installDocAuth(app: FastifyInstance, d: DocAuthDeps): void {
  if (!app.hasDecorator('meridianDocAuth')) app.decorate('meridianDocAuth', d)
}

const bearer = (header: string | undefined): string | null =>
  header !== undefined && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '').trim() : null

export async function authorizeDocRequest(request: FastifyRequest, docName: string, access: Access): Promise<DocAuthResult> {
  const d = request.server.meridianDocAuth
  if (d === undefined) return { ok: false, status: 401, code: 'ERR_AUTH_REQUIRED', message: 'document auth is not installed' }
  const token = bearer(request.headers.authorization)
  if (token !== null && d.adminToken !== undefined && secretEquals(token, d.adminToken)) return { ok: true, via: 'admin', stillValid: always }
  if (d.authenticator === null) return { ok: true, via: 'open', stillValid: always }
  if (token === null) return { ok: false, status: 401, code: 'ERR_AUTH_REQUIRED', message: 'send Authorization: Bearer <token>' }
  const verified = await d.authenticator.verify(token)
  if (!verified.ok) return { ok: false, status: 401, code: verified.code, message: verified.detail }
  const granted = accessFor(verified.grants, docName)
  if (granted === null || (access === 'write' && granted !== 'write')) {
    return { ok: false, status: 403, code: 'ERR_AUTH_FORBIDDEN', message: `the token does not grant ${access} access to this document` }
  }
  const { claims } = verified
  const revocations = d.authenticator.revocations
  return {
    ok: true,
    via: 'token',
    stillValid: () => (claims.exp === undefined || Date.now() < claims.exp * 1000) && !revocations.isRevoked(claims)
  }
}

const always = (): boolean => true
