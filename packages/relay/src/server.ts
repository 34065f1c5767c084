import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import type { RawData, WebSocket } from 'ws'
import { CLOSE_CODES, RelayError } from './errors.js'
import { Connection } from './connection.js'
import { RoomManager } from './rooms.js'
import { resolveRelayOptions, type RelayOptions, type ResolvedRelayOptions } from './options.js'
import { parseDocName } from './doc-name.js'
import { Mesh } from './mesh/mesh.js'

/** Messages a socket may send while its document is still loading. */
const MAX_QUEUED_BEFORE_LOAD = 256
/** Past this many bytes waiting in a socket's send buffer the client is too slow and is dropped. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024

export interface Relay {
  readonly app: FastifyInstance
  readonly options: ResolvedRelayOptions
  readonly rooms: RoomManager
  /** The multi-region mesh, when `options.mesh` was given. */
  readonly mesh: Mesh | null
  /** Starts listening; resolves with the bound address as `ws://host:port`. */
  listen(opts: { port: number; host: string }): Promise<string>
  /** Stops accepting, closes client sockets, flushes every document. Does not close the storage it was given. */
  close(): Promise<void>
}

/**
 * Builds a relay without listening (fastify style): tests use `app.inject` or
 * `listen({ port: 0 })`; the CLI adds process concerns (signals, storage).
 */
export async function buildRelay(relayOptions: RelayOptions): Promise<Relay> {
  const options = resolveRelayOptions(relayOptions)
  const { logger } = options
  const rooms = new RoomManager(options)
  const connections = new Set<Connection>()
  let closing: Promise<void> | null = null

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request logs would drown the per-connection ones that matter here.
    logController: new LogController({ disableRequestLogging: true })
  })
  await app.register(websocket, {
    options: { maxPayload: options.maxMessageBytes, perMessageDeflate: false }
  })

  const mesh = options.mesh === undefined
    ? null
    : new Mesh({ rooms, storage: options.storage, logger, nodeId: options.nodeId, region: options.region, maxMessageBytes: options.maxMessageBytes }, options.mesh)
  mesh?.register(app)

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    if (closing !== null) return reply.code(503).send({ status: 'closing' })
    return { status: 'ready', nodeId: options.nodeId, region: options.region }
  })

  app.get('/*', { websocket: true }, (socket: WebSocket, request) => {
    const parsed = parseDocName(request.url)
    if (!parsed.ok) {
      socket.close(CLOSE_CODES.INVALID_MESSAGE, parsed.reason)
      return
    }
    const docName = parsed.docName
    const id = randomUUID()
    const log = logger.child({ conn: id, doc: docName })
    // Messages that arrive while the document loads are kept in order, bounded.
    const queue: { data: RawData; isBinary: boolean }[] = []
    let connection: Connection | null = null
    let gone = false
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (connection !== null) {
        connection.handleRaw(data, isBinary)
      } else if (queue.length < MAX_QUEUED_BEFORE_LOAD) {
        queue.push({ data, isBinary })
      } else {
        socket.close(CLOSE_CODES.TRY_AGAIN_LATER, 'too many messages before the document loaded')
      }
    })
    socket.on('error', (err) => log.debug({ err }, 'socket error'))
    socket.on('close', () => {
      gone = true
      connection?.dispose()
    })

    rooms.acquire(docName).then(
      (room) => {
        if (gone) {
          rooms.release(room)
          return
        }
        connection = new Connection({
          id,
          socket,
          room,
          logger,
          nodeId: options.nodeId,
          region: options.region,
          limits: { maxMessageBytes: options.maxMessageBytes, maxStringBytes: 64 * 1024 },
          maxBufferedBytes: MAX_BUFFERED_BYTES,
          onClose: (c) => {
            connections.delete(c)
            rooms.release(room)
          }
        })
        connections.add(connection)
        connection.start()
        for (const { data, isBinary } of queue.splice(0)) connection.handleRaw(data, isBinary)
      },
      (err: unknown) => {
        log.error({ err }, 'document load failed')
        const code = err instanceof RelayError && err.code === 'ERR_RELAY_CLOSED' ? CLOSE_CODES.GOING_AWAY : CLOSE_CODES.DOC_LOAD_FAILED
        socket.close(code, err instanceof RelayError ? err.code : 'ERR_DOC_LOAD')
      }
    )
  })

  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const c of [...connections]) c.close(CLOSE_CODES.GOING_AWAY, 'relay shutting down')
      await app.close()
      await mesh?.stop()
      await rooms.close()
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

  return { app, options, rooms, mesh, listen, close }
}
