import { readFile, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, normalize, sep } from 'node:path'
import type { ApiError, ApiErrorCode } from './api-types.js'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon'
}

const STATUS_OF: Record<ApiErrorCode, number> = {
  ERR_BAD_REQUEST: 400,
  ERR_FORBIDDEN: 403,
  ERR_NOT_FOUND: 404,
  ERR_RELAY_STATE: 409,
  ERR_INTERNAL: 500
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export function sendError(res: ServerResponse, code: ApiErrorCode, message: string): void {
  const body: ApiError = { code, message }
  sendJson(res, STATUS_OF[code], body)
}

/**
 * Loopback only, also against DNS rebinding and other sites' pages: the Host
 * must name a loopback address, and a request that carries an Origin must come
 * from this server's own page.
 */
export function isLocalRequest(req: IncomingMessage, port: number): boolean {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]
  if (!hosts.includes(req.headers.host ?? '')) return false
  const origin = req.headers.origin
  return origin === undefined || hosts.some((h) => origin === `http://${h}`)
}

/** A JSON request body, at most `maxBytes`; an empty body is `{}`. Rejects with a message for the 400. */
export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        // Answer the 400 and drain the rest instead of cutting the socket under the client.
        reject(new Error(`body larger than ${maxBytes} bytes`))
        req.removeAllListeners('data')
        req.resume()
        return
      }
      chunks.push(chunk)
    })
    req.on('error', reject)
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim()
      if (text === '') return resolve({})
      try {
        resolve(JSON.parse(text))
      } catch {
        reject(new Error('body is not JSON'))
      }
    })
  })
}

/** Serves a built page from `dir` (index.html for `/`); nothing outside `dir`. Returns false when there is no such file. */
export async function serveFile(dir: string, urlPath: string, res: ServerResponse): Promise<boolean> {
  let path: string
  try {
    path = decodeURIComponent(urlPath)
  } catch {
    return false
  }
  if (path.endsWith('/')) path += 'index.html'
  const file = normalize(join(dir, path))
  if (!file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) return false
  try {
    if (!(await stat(file)).isFile()) return false
    const body = await readFile(file)
    res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache', 'content-length': body.length })
    res.end(body)
    return true
  } catch {
    return false
  }
}
