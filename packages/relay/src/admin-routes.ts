/**
 * Operator endpoints: `GET /metrics` (Prometheus text, open: no document
 * names or tokens in it), `GET /v1/status` (JSON) and `POST /v1/revocations`.
 * Everything under `/v1/` needs `Authorization: Bearer <adminToken>` whenever
 * auth is on or an admin token is configured: see admin-auth.ts, which must be
 * installed before these routes are registered.
 */
import type { FastifyInstance } from 'fastify'
import type { DocSockets } from './doc-socket.js'
import type { RelayMetrics } from './metrics.js'
import type { ResolvedRelayOptions } from './options.js'
import type { RoomManager } from './rooms.js'
import type { StatusRegistry } from './status.js'

export interface AdminDeps {
  options: ResolvedRelayOptions
  metrics: RelayMetrics
  status: StatusRegistry
  sockets: DocSockets
  rooms: RoomManager
  /** Revokes and stores; resolves with the connections closed once the revocation is durable. */
  revoke: (match: { jti?: string; sub?: string }) => Promise<number>
}

export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { options, metrics, status, sockets, rooms, revoke } = deps
  const startedAt = new Date()

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.scrape()
    return reply.header('content-type', metrics.contentType).send(text)
  })

  status.register('relay', () => ({
    nodeId: options.nodeId,
    region: options.region,
    startedAt: startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000)
  }))
  status.register('auth', () => ({
    mode: options.auth.mode,
    allowedOrigins: options.allowedOrigins.map((o) => o.pattern),
    revocations: sockets.revocations.size
  }))
  status.register('connections', () => ({
    open: sockets.limiter.open,
    byAccess: sockets.accessCounts(),
    addresses: sockets.limiter.addresses,
    max: options.maxConnections,
    maxPerIp: options.maxConnectionsPerIp
  }))
  status.register('documents', () => ({ loaded: rooms.loadedCount, memoryBytes: rooms.memoryBytes, memoryBudgetBytes: rooms.memory.options.maxBytes }))
  status.register('limits', () => ({
    maxMessageBytes: options.maxMessageBytes,
    maxDocumentBytes: options.maxDocumentBytes,
    maxBufferedBytes: options.maxBufferedBytes,
    updateLimits: options.updateLimits,
    memoryBudget: options.memoryBudget,
    idleTimeoutMs: options.idleTimeoutMs,
    pingIntervalMs: options.pingIntervalMs,
    rateLimit: options.rateLimit,
    preAuth: options.preAuth
  }))

  app.get('/v1/status', async () => status.collect())

  app.post('/v1/revocations', async (request, reply) => {
    const body = request.body as { jti?: unknown; sub?: unknown } | null | undefined
    const jti = typeof body?.jti === 'string' && body.jti.length > 0 ? body.jti : undefined
    const sub = typeof body?.sub === 'string' && body.sub.length > 0 ? body.sub : undefined
    if (jti === undefined && sub === undefined) {
      return reply.code(400).send({ code: 'ERR_BAD_REQUEST', message: 'give a jti and/or a sub' })
    }
    let closed: number
    try {
      closed = await revoke({ ...(jti !== undefined ? { jti } : {}), ...(sub !== undefined ? { sub } : {}) })
    } catch (err) {
      request.log.error({ err }, 'revocation not stored')
      // Applied on this relay, but not durable: the operator must retry.
      return reply.code(503).send({ code: 'ERR_STORAGE_WRITE', message: 'the revocation is in force here but could not be stored; retry' })
    }
    return { revoked: { jti: jti ?? null, sub: sub ?? null }, closedConnections: closed }
  })
}
