import type { AddressInfo } from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import websocket from '@fastify/websocket'
import type { WebSocket } from 'ws'
import type { RelaySocket, UpgradeInfo } from './transport.js'
import { CLOSE_CODES } from './errors.js'
import { RoomManager } from './rooms.js'
import { resolveRelayOptions, type RelayOptions, type ResolvedRelayOptions } from './options.js'
import { DocSockets } from './doc-socket.js'
import { RelayMetrics, instrumentStorage } from './metrics.js'
import { StatusRegistry, type StatusProvider } from './status.js'
import { registerAdminRoutes } from './admin-routes.js'
import { guardAdminRoutes } from './admin-auth.js'
import { DEFAULT_CLOSE_GRACE_MS, terminateAfterGrace } from './socket-close.js'
import { PendingConnections } from './pending-connections.js'
import { RevocationStore } from './revocation-store.js'
import { MESH_PATH, Mesh } from './mesh/mesh.js'
import { RelayGuarantees } from './guarantees.js'
import { attachBus, type BusBridge } from './bus-bridge.js'
import { releaseUpgrade } from './ws-internals.js'
import { ChangeFeedService, type WebhookOutcome } from './changes/index.js'
import { installDocAuth } from './docs/http-auth.js'
import { HistoryService } from './history/history-service.js'
import { AutoVersions } from './history/auto-versions.js'
import { registerHistoryRoutes } from './history/history-routes.js'
import { DocTombstones } from './docs/tombstones.js'
import { registerDocRoutes } from './docs/doc-routes.js'
import { limitDocRequests } from './docs/http-rate-limit.js'
import { DocSizeGuard } from './limits.js'
import { MAX_DOC_NAME_BYTES } from './doc-name.js'

export interface Relay {
  readonly app: FastifyInstance
  readonly options: ResolvedRelayOptions
  readonly rooms: RoomManager
  /** The multi-region mesh, when `options.mesh` was given. */
  readonly mesh: Mesh | null
  /** The region bus bridge, when `options.bus` was given. */
  readonly bus: BusBridge | null
  /** Prometheus metrics (`GET /metrics`); the mesh and the policy layer add their series here. */
  readonly metrics: RelayMetrics
  /** Adds a section to `GET /v1/status` (its provider runs per request); returns the unregister function. */
  registerStatusSection(name: string, provider: StatusProvider): () => void
  /** Every webhook delivery attempt's outcome on this relay, once status and metrics show it; returns the unsubscribe function. */
  onWebhookOutcome(listener: (event: WebhookOutcome) => void): () => void
  /** Version history of documents (history/): list, create, open, restore. */
  readonly history: HistoryService
  /** Automatic versions and retention; `idle()` resolves when none is in flight. */
  readonly autoVersions: AutoVersions
  /** Revokes tokens by `jti` and/or `sub`, closing the live connections that use them (4412); returns how many. Stored in the background. */
  revokeTokens(match: { jti?: string; sub?: string }): number
  /** The same, resolving once the revocation is stored (it then survives restarts and reaches the relays sharing the storage). */
  revokeTokensDurably(match: { jti?: string; sub?: string }): Promise<number>
  /** Starts listening; resolves with the bound address as `ws://host:port`. */
  listen(opts: { port: number; host: string }): Promise<string>
  /**
   * Starts without listening, for transports other than HTTP (a simulated
   * network): connections arrive through `acceptSocket`; `url` is the address
   * other relays are told to dial.
   */
  startDetached(opts: { url: string }): Promise<void>
  /**
   * Takes an open socket from any transport, as if it had come through the
   * HTTP upgrade: the mesh path gets the link check, any other path the
   * document checks (Origin, token, limits). Rejects only if the relay is closing.
   */
  acceptSocket(socket: RelaySocket, upgrade: UpgradeInfo): Promise<void>
  /**
   * Stops accepting, closes client sockets, stops the mesh, flushes every
   * document, then detaches the bus. Does not close the storage or the bus it
   * was given.
   */
  close(): Promise<void>
}

/**
 * Builds a relay without listening (fastify style): tests use `app.inject` or
 * `listen({ port: 0 })`; the CLI adds process concerns (signals, storage).
 */
export async function buildRelay(relayOptions: RelayOptions): Promise<Relay> {
  const resolved = resolveRelayOptions(relayOptions)
  const metrics = new RelayMetrics({ nodeId: resolved.nodeId, region: resolved.region, processMetrics: resolved.processMetrics })
  // Storage operations are timed for /metrics; the proxy is transparent to everything else.
  const options: ResolvedRelayOptions = { ...resolved, storage: instrumentStorage(resolved.storage, metrics) }
  const { logger } = options
  const rooms = new RoomManager({ ...options, metrics })
  metrics.trackDocumentMemory(() => rooms.memoryBytes, rooms.memory.options.maxBytes)
  rooms.onRoomLoaded(() => metrics.documentsLoaded.inc())
  rooms.onRoomEvicted(() => {
    metrics.documentsLoaded.dec()
    metrics.documentEvictions.inc()
  })
  if (options.auth.mode === 'none') logger.warn('auth is off: anyone who can reach this relay may read and write every document')
  let closing: Promise<void> | null = null

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request logs would drown the per-connection ones that matter here.
    logController: new LogController({ disableRequestLogging: true }),
    // Nor a pino child per request for a request id nothing else logs (a few hundred bytes per WebSocket upgrade,
    // kept through the upgrade's async checks): request.log is the relay's logger.
    childLoggerFactory: (logger) => logger,
    trustProxy: options.trustProxy,
    // A document name is one route parameter of the document API (percent-encoded: up to 3 bytes per byte).
    routerOptions: { maxParamLength: 3 * MAX_DOC_NAME_BYTES + 64 }
  })
  // Socket errors (resets, oversized frames) are the peer's doing, not the relay's. ws is already
  // closing the socket (with 1009 for an oversized frame) and reads no more: the close frame gets a
  // short grace to reach the client, which can then tell why, before the socket is destroyed.
  const onSocketError = (error: Error, socket: WebSocket): void => {
    logger.debug({ err: error }, 'websocket error')
    terminateAfterGrace(socket, DEFAULT_CLOSE_GRACE_MS, options.clock)
  }
  // The same, as a listener on the socket (one function for every socket: see releaseUpgrade).
  const socketErrorListener = function (this: WebSocket, error: Error): void {
    onSocketError(error, this)
  }
  await app.register(websocket, {
    options: { maxPayload: options.maxMessageBytes, perMessageDeflate: false },
    errorHandler: onSocketError
  })

  // Before any route: the check attaches to each /v1/ route as it is registered (the mesh's too).
  guardAdminRoutes(app, { adminToken: options.adminToken, required: options.auth.mode === 'jwt' || options.adminToken !== undefined })
  // Then the request rate of the document API and the change feed, checked ahead of the admin check.
  limitDocRequests(app, options.httpRateLimit, options.clock)

  // Deleted documents: loads refused, the mesh told (docs/tombstones.ts).
  const tombstones = new DocTombstones({ storage: options.storage, rooms, logger, now: () => options.clock.now(), sharedStorage: options.bus !== undefined })
  const mesh = options.mesh === undefined
    ? null
    : new Mesh(
      { rooms, storage: options.storage, tombstones, logger, nodeId: options.nodeId, region: options.region, maxMessageBytes: options.maxMessageBytes, maxDocumentBytes: options.maxDocumentBytes, clock: options.clock, random: options.random },
      // With a region bus, changes from the bus were pushed on by the relay that accepted them.
      { ...options.mesh, regionShared: options.bus !== undefined }
    )
  mesh?.register(app)
  const guarantees = new RelayGuarantees({
    clock: options.clock,
    policies: options.documentPolicies,
    region: options.region,
    mesh,
    statusIntervalMs: options.statusIntervalMs,
    readOnlyRecoveryHoldMs: options.readOnlyRecoveryHoldMs,
    logger,
    metrics
  })

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    if (closing !== null) return reply.code(503).send({ status: 'closing' })
    return { status: 'ready', nodeId: options.nodeId, region: options.region }
  })

  const sockets = new DocSockets({ options, logger, rooms, metrics, guarantees })
  sockets.registerHooks(app)
  // Connections still sending their request headers count against the connection caps (slowloris).
  new PendingConnections({
    maxConnections: options.maxConnections,
    maxConnectionsPerIp: options.maxConnectionsPerIp,
    headerTimeoutMs: options.headerTimeoutMs,
    perIp: options.trustProxy === false,
    clock: options.clock,
    onRefused: (reason) => metrics.connectionsRefused.inc({ reason })
  }).attach(app.server)
  // Revocations live in storage (revocation-store.ts): loaded now, so none is forgotten across a restart.
  const revocationStore = options.auth.mode === 'jwt'
    ? await RevocationStore.open({ rooms, apply: (kind, key, atMs) => sockets.revoke({ [kind]: key }, atMs) })
    : null
  const revoke = async (match: { jti?: string; sub?: string }): Promise<number> => {
    const atMs = options.clock.now()
    const closed = sockets.revoke(match, atMs)
    await revocationStore?.record(match, atMs)
    return closed
  }
  const status = new StatusRegistry()
  registerAdminRoutes(app, { options, metrics, status, sockets, rooms, revoke })
  installDocAuth(app, { adminToken: options.adminToken, authenticator: sockets.authenticator })
  // The change feed routes and the webhook deliverers (changes/index.ts).
  const changes = new ChangeFeedService({ app, options, rooms, metrics, registerStatus: (name, provider) => status.register(name, provider) })
  await changes.start()
  const history = new HistoryService({
    rooms,
    clock: options.clock,
    logger,
    nodeId: options.nodeId,
    retention: options.history.retention,
    isReadOnly: (docName) => guarantees.isReadOnly(docName)
  })
  const autoVersions = new AutoVersions({
    rooms,
    clock: options.clock,
    logger,
    nodeId: options.nodeId,
    service: history,
    policy: options.history.autoVersions,
    retentionDelayMs: options.history.retentionDelayMs
  })
  registerHistoryRoutes(app, { service: history, durability: { guarantees, mesh, clock: options.clock, regionShared: options.bus !== undefined } })
  await registerDocRoutes(app, {
    rooms,
    storage: options.storage,
    tombstones,
    maxBodyBytes: options.maxMessageBytes,
    docSize: new DocSizeGuard(options.maxDocumentBytes),
    guarantees,
    mesh,
    clock: options.clock,
    regionShared: options.bus !== undefined
  })

  // Document sockets: limits, Origin and token checks, then a Connection (doc-socket.ts).
  const upgrades = new WeakMap<IncomingMessage, ServerResponse>()
  const keepResponse = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    upgrades.set(request.raw, reply.raw)
  }
  app.get('/*', { websocket: true, preValidation: [keepResponse, sockets.preValidation] }, (socket: WebSocket, request) => {
    releaseUpgrade(socket, request.raw, upgrades.get(request.raw), socketErrorListener)
    sockets.accept(socket, request)
  })

  const close = (): Promise<void> => {
    closing ??= (async () => {
      sockets.stop()
      // Feed streams end before the HTTP server waits for its requests; deliverers stop while storage is there.
      changes.closeStreams()
      const deliverersStopped = changes.stop()
      sockets.shutdown()
      guarantees.close()
      await autoVersions.close()
      // Mesh links first: a peer behind a partition would hold app.close() on its close handshake.
      await mesh?.stop()
      await app.close()
      await deliverersStopped
      revocationStore?.close()
      await rooms.close()
      // After the flush: what it committed is published before the bridge lets go.
      await bridge?.close()
    })()
    return closing
  }

  const listen = async ({ port, host }: { port: number; host: string }): Promise<string> => {
    await app.listen({ port, host })
    const address0 = app.server.address() as AddressInfo
    await mesh?.start(`ws://${address0.family === 'IPv6' ? `[${address0.address}]` : address0.address}:${address0.port}`)
    const address = app.server.address() as AddressInfo
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return `ws://${shownHost}:${address.port}`
  }

  const startDetached = async ({ url }: { url: string }): Promise<void> => {
    await app.ready()
    await mesh?.start(url)
  }

  const acceptSocket = async (socket: RelaySocket, upgrade: UpgradeInfo): Promise<void> => {
    if (closing !== null) {
      socket.close(CLOSE_CODES.GOING_AWAY, 'relay shutting down')
      return
    }
    const path = upgrade.url.split('?')[0] ?? ''
    if (path === MESH_PATH) {
      if (mesh === null) socket.close(CLOSE_CODES.INVALID_MESSAGE, 'no mesh on this relay')
      else mesh.acceptSocket(socket, upgrade.headers, upgrade.ip)
      return
    }
    await sockets.acceptUpgrade(socket, upgrade)
  }

  let bridge: BusBridge | null = null
  const relay: Relay = {
    app,
    options,
    rooms,
    mesh,
    get bus() {
      return bridge
    },
    metrics,
    history,
    autoVersions,
    registerStatusSection: (name, provider) => status.register(name, provider),
    onWebhookOutcome: (listener) => changes.onOutcome(listener),
    revokeTokens: (match) => {
      const atMs = options.clock.now()
      const closed = sockets.revoke(match, atMs)
      revocationStore?.record(match, atMs).catch((err: unknown) => logger.error({ err }, 'a revocation could not be stored'))
      return closed
    },
    revokeTokensDurably: revoke,
    listen,
    startDetached,
    acceptSocket,
    close
  }
  if (options.bus !== undefined) bridge = attachBus(relay, options.bus, options.busBridge)
  return relay
}
