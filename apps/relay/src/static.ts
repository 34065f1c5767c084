import { createReadStream } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { extname, join, resolve, sep } from 'node:path'
import type { FastifyInstance, FastifyReply } from 'fastify'

/** Where the demo is served. Every other path keeps its meaning (documents over WebSocket, endpoints). */
export const DEMO_PREFIX = '/demo/'
/** Where the editor demo is served (`--serve-editor`). */
export const EDITOR_PREFIX = '/editor/'

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm'
}

export interface ServeDemoOptions {
  /** The built demo (`apps/demo/dist`); must contain index.html. */
  readonly dir: string
  /** Called with a line saying where to open the demo, once the server listens. */
  readonly print?: (line: string) => void
  /** URL path to serve it under, `/name/`; default DEMO_PREFIX. Only DEMO_PREFIX also takes over `/`. */
  readonly prefix?: string
}

/**
 * Serves a static folder (the built demo) under `/demo/` on the relay's
 * fastify instance, and redirects `/` there. Only plain HTTP GET/HEAD of
 * regular files inside the folder; no directory listings, no dotfiles, no way
 * out of the folder (`..`, encoded or not, and symlinks pointing outside are
 * refused). WebSocket upgrades are never touched, so a document named
 * `demo/...` still works. Implemented as an onRequest hook rather than a route
 * so the relay's catch-all WebSocket route keeps every upgrade.
 */
export async function serveDemo(app: FastifyInstance, options: ServeDemoOptions): Promise<{ root: string }> {
  const prefix = options.prefix ?? DEMO_PREFIX
  if (!/^\/[a-z0-9-]+\/$/.test(prefix)) throw new Error(`serveDemo: prefix must look like /name/, got ${prefix}`)
  let root: string
  try {
    root = await realpath(resolve(options.dir))
    if (!(await stat(join(root, 'index.html'))).isFile()) throw new Error('index.html is not a file')
  } catch (cause) {
    const name = prefix.slice(1, -1)
    throw new Error(`--serve-${name}: no built ${name} in ${resolve(options.dir)} (build it with \`npm run build -w @meridian/${name}\`)`, { cause })
  }

  app.addHook('onRequest', async (request, reply) => {
    // WebSocket upgrades (any path) belong to the document route.
    if (request.headers.upgrade !== undefined || (request as { ws?: boolean }).ws === true) return
    if (request.method !== 'GET' && request.method !== 'HEAD') return
    const [path = '', query] = splitOnce(request.url, '?')
    const search = query === undefined ? '' : `?${query}`
    if ((path === '/' && prefix === DEMO_PREFIX) || path === prefix.slice(0, -1)) return reply.redirect(`${prefix}${search}`, 302)
    if (!path.startsWith(prefix)) return
    const file = await resolveFile(root, path.slice(prefix.length))
    if (file === null) return reply.code(404).type('text/plain; charset=utf-8').send('not found\n')
    return sendFile(reply, file, request.method === 'HEAD')
  })

  if (options.print !== undefined) {
    const print = options.print
    app.addHook('onListen', async () => {
      const address = app.server.address() as AddressInfo | null
      if (address === null || typeof address !== 'object') return
      const anyHost = address.address === '0.0.0.0' || address.address === '::'
      const host = anyHost ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address
      print(`${prefix.slice(1, -1)}: open http://${host}:${address.port}${prefix} (served from ${root})\n`)
    })
  }
  return { root }
}

interface FoundFile {
  readonly path: string
  readonly size: number
  readonly relative: string
}

/** The file a URL path below /demo/ names, or null (missing, a directory without index.html, or outside the folder). */
export async function resolveFile(root: string, rawRelative: string): Promise<FoundFile | null> {
  const segments: string[] = []
  for (const raw of rawRelative.split('/')) {
    let segment: string
    try {
      segment = decodeURIComponent(raw)
    } catch {
      return null
    }
    if (segment === '') continue
    // No parent/self references, no hidden files, no separators or NULs smuggled in by encoding.
    if (segment.startsWith('.') || segment.includes('/') || segment.includes('\\') || segment.includes('\0')) return null
    segments.push(segment)
  }
  const directoryRequested = rawRelative === '' || rawRelative.endsWith('/')
  const candidate = directoryRequested ? [...segments, 'index.html'] : segments
  const found = await regularFileInside(root, candidate)
  if (found !== null || directoryRequested) return found
  // `/demo/sub` naming a folder: serve its index.html.
  return regularFileInside(root, [...segments, 'index.html'])
}

async function regularFileInside(root: string, segments: readonly string[]): Promise<FoundFile | null> {
  const lexical = resolve(root, ...segments)
  if (!isInside(root, lexical)) return null
  try {
    // Symlinks are followed only if they stay inside the folder.
    const real = await realpath(lexical)
    if (!isInside(root, real)) return null
    const info = await stat(real)
    return info.isFile() ? { path: real, size: info.size, relative: segments.join('/') } : null
  } catch {
    return null
  }
}

function isInside(root: string, path: string): boolean {
  return path.startsWith(root.endsWith(sep) ? root : root + sep)
}

function sendFile(reply: FastifyReply, file: FoundFile, headOnly: boolean): FastifyReply {
  const type = CONTENT_TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream'
  // Vite puts content-hashed files under assets/: cache them for good; everything else revalidates.
  const immutable = file.relative.startsWith('assets/')
  reply
    .code(200)
    .header('content-type', type)
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('content-length', String(file.size))
  return headOnly ? reply.send() : reply.send(createReadStream(file.path))
}

function splitOnce(value: string, separator: string): [string, string | undefined] {
  const at = value.indexOf(separator)
  return at < 0 ? [value, undefined] : [value.slice(0, at), value.slice(at + 1)]
}
