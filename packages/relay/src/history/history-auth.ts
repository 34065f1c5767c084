/**
 * Who may use the version routes of a document: the admin token, or a JWT
 * whose grants give the access needed on the document (a history document has
 * its document's access: auth.ts `accessFor`). With auth off, anyone may (as
 * on the document sockets). One function, so moving to the document API's
 * shared check (`authorizeDocRequest`) is a one-line change.
 */
import type { FastifyRequest } from 'fastify'
import { accessFor, secretEquals, type Access, type Authenticator } from '../auth.js'

export interface HistoryAuthDeps {
  adminToken: string | undefined
  /** null when auth is off. */
  authenticator: Authenticator | null
}

export type HistoryAuthResult =
  | { ok: true; actor: string }
  | { ok: false; status: 401 | 403; code: 'ERR_AUTH_REQUIRED' | 'ERR_AUTH_INVALID' | 'ERR_AUTH_EXPIRED' | 'ERR_AUTH_REVOKED' | 'ERR_AUTH_FORBIDDEN' | 'ERR_READ_ONLY' }

export async function authorizeHistoryRequest(deps: HistoryAuthDeps, request: FastifyRequest, docName: string, need: Access): Promise<HistoryAuthResult> {
  const header = request.headers.authorization
  const token = header !== undefined && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '').trim() : null
  if (token !== null && deps.adminToken !== undefined && secretEquals(token, deps.adminToken)) return { ok: true, actor: 'admin' }
  if (deps.authenticator === null) {
    // Auth off: the document sockets let anyone read and write, and so do these routes.
    return { ok: true, actor: 'anonymous' }
  }
  if (token === null) return { ok: false, status: 401, code: 'ERR_AUTH_REQUIRED' }
  const verified = await deps.authenticator.verify(token)
  if (!verified.ok) return { ok: false, status: 401, code: verified.code }
  const access = accessFor(verified.grants, docName)
  if (access === null) return { ok: false, status: 403, code: 'ERR_AUTH_FORBIDDEN' }
  if (need === 'write' && access === 'read') return { ok: false, status: 403, code: 'ERR_READ_ONLY' }
  return { ok: true, actor: verified.claims.sub ?? 'token' }
}
