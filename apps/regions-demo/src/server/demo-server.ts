import { existsSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import { startProcessCluster, withTimeout, type MeshTiming, type ProcessCluster } from '@meridian/testing'
import type { CutRequest, HealRequest } from './api-types.js'
import { ControlError, RegionsControl } from './control.js'
import { isLocalRequest, readJsonBody, sendError, sendJson, serveFile } from './http-util.js'

export interface RegionsDemoOptions {
  /** The built page (vite build output: `dist/page`). */
  pageDir: string
  /** Region names, one relay each. Default `eu`, `us`, `ap`. */
  regions?: readonly string[]
  /** Port of the page and control API on 127.0.0.1. Default 0 (ephemeral). */
  port?: number
  /** The document every region's editor opens. Default `regions-demo`. */
  docName?: string
  /** Bounds starting the relays and forming the mesh. Default 30,000 ms. */
  startTimeoutMs?: number
  /** Mesh timing of the relays. Default: the kit's PROCESS_MESH_TIMING (partitions noticed within seconds). */
  meshTiming?: Partial<MeshTiming>
  /** `--log-level` of the relays. Default `warn`. */
  relayLogLevel?: string
  /** The `meridian-relay` CLI script. Default: resolved by @meridian/testing. */
  relayMain?: string
}

export const DEFAULT_REGIONS: readonly string[] = ['eu', 'us', 'ap']
export const DEFAULT_DEMO_DOC = 'regions-demo'

export interface RegionsDemo {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string
  readonly cluster: ProcessCluster
  readonly control: RegionsControl
  /** Stops the HTTP server, kills the relays, closes the proxies, removes the data dirs. Bounded; idempotent. */
  close(): Promise<void>
}

const MAX_BODY_BYTES = 4096

/**
 * Starts one relay per region (SQLite in a temp dir) meshed through the
 * testing kit's fault proxies, and an HTTP server on 127.0.0.1 with the page
 * and the control API:
 *
 * - `GET /api/state` → DemoState (each relay's `/v1/cluster`, and the cuts)
 * - `POST /api/cut` CutRequest · `POST /api/heal` HealRequest
 * - `POST /api/relays/<region>/kill` · `POST /api/relays/<region>/restart`
 */
export async function startRegionsDemo(options: RegionsDemoOptions): Promise<RegionsDemo> {
  const pageDir = resolve(options.pageDir)
  if (!existsSync(resolve(pageDir, 'index.html'))) throw new Error(`no built page at ${pageDir} (run \`npm run build -w @meridian/regions-demo\`)`)
  const docName = options.docName ?? DEFAULT_DEMO_DOC
  const cluster = await startProcessCluster({
    regions: options.regions ?? DEFAULT_REGIONS,
    clients: 0,
    docName,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
    relayLogLevel: options.relayLogLevel ?? 'warn',
    ...(options.meshTiming !== undefined ? { meshTiming: options.meshTiming } : {}),
    ...(options.relayMain !== undefined ? { relayMain: options.relayMain } : {})
  })
  const control = new RegionsControl({ cluster, docName, readTimeoutMs: 1_000 })
  let port = 0
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 'ERR_INTERNAL', err instanceof Error ? err.message : String(err))
      else res.destroy()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isLocalRequest(req, port)) return sendError(res, 'ERR_FORBIDDEN', 'the control API answers its own page on loopback only')
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    if (!path.startsWith('/api/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 'ERR_NOT_FOUND', `${req.method ?? '?'} ${path}`)
      if (!(await serveFile(pageDir, path, res))) sendError(res, 'ERR_NOT_FOUND', `no ${path}`)
      return
    }
    if (req.method === 'GET' && path === '/api/state') return sendJson(res, 200, await control.state())
    if (req.method !== 'POST') return sendError(res, 'ERR_NOT_FOUND', `${req.method ?? '?'} ${path}`)
    // JSON only: a cross-site form cannot send it without a preflight, which this server never grants.
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return sendError(res, 'ERR_BAD_REQUEST', 'send application/json')
    let body: Record<string, unknown>
    try {
      const parsed = await readJsonBody(req, MAX_BODY_BYTES)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('body must be a JSON object')
      body = parsed as Record<string, unknown>
    } catch (err) {
      return sendError(res, 'ERR_BAD_REQUEST', (err as Error).message)
    }
    try {
      await act(path, body)
    } catch (err) {
      if (err instanceof ControlError) return sendError(res, err.code, err.message)
      throw err
    }
    sendJson(res, 200, await control.state())
  }

  async function act(path: string, body: Record<string, unknown>): Promise<void> {
    if (path === '/api/cut') {
      const req = body as Partial<CutRequest>
      if (typeof req.from !== 'string' || typeof req.to !== 'string') throw new ControlError('ERR_BAD_REQUEST', 'cut needs "from" and "to" regions')
      if (req.both !== undefined && typeof req.both !== 'boolean') throw new ControlError('ERR_BAD_REQUEST', '"both" is a boolean')
      return control.cut(req.from, req.to, req.both === true)
    }
    if (path === '/api/heal') {
      const req = body as HealRequest
      if ((req.a !== undefined && typeof req.a !== 'string') || (req.b !== undefined && typeof req.b !== 'string')) throw new ControlError('ERR_BAD_REQUEST', '"a" and "b" are region names')
      return control.heal(req.a, req.b)
    }
    const relayAction = /^\/api\/relays\/([A-Za-z0-9_.-]+)\/(kill|restart)$/.exec(path)
    if (relayAction !== null) {
      const [, region, action] = relayAction as unknown as [string, string, 'kill' | 'restart']
      return action === 'kill' ? control.kill(region) : control.restart(region)
    }
    throw new ControlError('ERR_NOT_FOUND', `POST ${path}`)
  }

  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail)
      server.listen(options.port ?? 0, '127.0.0.1', () => ok())
    })
  } catch (err) {
    await cluster.close()
    throw err
  }
  port = (server.address() as AddressInfo).port
  let closing: Promise<void> | null = null

  return {
    url: `http://127.0.0.1:${port}/`,
    cluster,
    control,
    close() {
      closing ??= (async () => {
        server.closeAllConnections()
        await withTimeout(new Promise<void>((ok) => server.close(() => ok())), 5_000, undefined)
        await withTimeout(control.idle(), 20_000, undefined)
        await cluster.close()
      })()
      return closing
    }
  }
}
