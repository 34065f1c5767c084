/**
 * Authorization of the operator endpoints under `/v1/`. It is bound to the
 * routes themselves (an `onRequest` hook added to every route whose pattern
 * is under `/v1/` as it is registered), never decided from the raw URL: the
 * router matches the percent-decoded path, so `/%76%31/status` reaches the
 * `/v1/status` route and must meet the same check.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, onRequestHookHandler } from 'fastify'
import { secretEquals } from './auth.js'
import { isDocApiRoute } from './docs/http-auth.js'
import { errorBody } from './docs/http-errors.js'

export interface AdminAuthOptions {
  /** Bearer token for `/v1/*`; undefined: the routes answer 401 whenever `required`. */
  adminToken: string | undefined
  /** Whether the token is required (auth is on, or a token was configured). */
  required: boolean
}

/**
 * True for a route pattern that is an operator endpoint. Routes of one document
 * (`/v1/docs/<name>/...`) are not: they take the admin token or a JWT whose
 * grants cover the document, checked by docs/http-auth.ts in the route.
 */
export const isAdminRoute = (pattern: string): boolean => pattern === '/v1' || (pattern.startsWith('/v1/') && !pattern.startsWith('/v1/docs/'))

/**
 * Installs the admin check on every `/v1/` route registered after this call
 * (call it before any route is added: the mesh's `/v1/cluster` included).
 */
export function guardAdminRoutes(app: FastifyInstance, options: AdminAuthOptions): void {
  const plainCheck = adminCheck(options, 'flat')
  // The relay-wide change feed answers errors like the document API (`{ error: { code, message } }`).
  const feedCheck = adminCheck(options, 'nested')
  app.addHook('onRoute', (route: RouteOptions) => {
    // The document API decides per request (admin token or a JWT's grants): docs/http-auth.ts.
    if (!isAdminRoute(route.url) || isDocApiRoute(route.url)) return
    const check = route.url === '/v1/changes' ? feedCheck : plainCheck
    const existing = route.onRequest
    route.onRequest = existing === undefined ? [check] : [check, ...(Array.isArray(existing) ? existing : [existing])]
  })
}

/** `flat`: `{ code, message }` (the operator endpoints); `nested`: `{ error: { code, message } }` (the change feed). */
type ErrorShape = 'flat' | 'nested'

function adminCheck({ adminToken, required }: AdminAuthOptions, shape: ErrorShape): onRequestHookHandler {
  return async function adminOnly(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!required) return
    const header = request.headers.authorization
    const presented = header !== undefined && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '').trim() : null
    if (adminToken === undefined || presented === null || !secretEquals(presented, adminToken)) {
      const message = adminToken === undefined ? 'configure an admin token to use /v1' : 'admin token required'
      await reply.code(401).send(shape === 'nested' ? errorBody('ERR_ADMIN_AUTH', message) : { code: 'ERR_ADMIN_AUTH', message })
    }
  }
}
