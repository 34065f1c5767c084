/**
 * HTTP routes of the change feed:
 * - `GET /v1/docs/:name/changes?after=<seq>&limit=&waitMs=`: one document's
 *   changes after `after` (a sequence number, 0 = from the start), admin token
 *   or a JWT with read access to the document (docs/http-auth.ts);
 * - `GET /v1/changes?after=<cursor>&limit=&waitMs=`: every document's, in commit
 *   order, admin token only (the /v1 guard).
 * JSON pages (long-poll with `waitMs`), or server-sent events with
 * `Accept: text/event-stream` (one `change` event per change, `id:` its cursor;
 * `Last-Event-ID` resumes). See README, "Change feed".
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Clock } from '@meridian/base'
import { checkDocRequest } from '../docs/http-auth.js'
import { errorBody } from '../docs/http-errors.js'
import { parseDocName } from '../doc-name.js'
import type { ChangeFeed, FeedChange } from './feed.js'

export const DEFAULT_CHANGES_LIMIT = 100
export const MAX_CHANGES_LIMIT = 1000
export const MAX_WAIT_MS = 60_000
/** An SSE stream sends a comment at least this often, so proxies keep it open (and a token's expiry is seen within it). */
export const SSE_HEARTBEAT_MS = 15_000

export interface ChangeRoutesDeps {
  feed: ChangeFeed
  clock: Clock
}

type Query = Record<string, string | undefined>

const bad = (reply: FastifyReply, message: string): FastifyReply => reply.code(400).send(errorBody('ERR_FEED_CURSOR', message))

function intParam(value: string | undefined, fallback: number, max: number): number | null {
  if (value === undefined || value === '') return fallback
  if (!/^\d{1,15}$/.test(value)) return null
  const n = Number(value)
  return n > max ? null : n
}

export const changeJson = (c: FeedChange & { doc?: string }): Record<string, unknown> => ({
  ...(c.doc !== undefined ? { doc: c.doc } : {}),
  kind: c.kind,
  seq: c.seq,
  data: Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength).toString('base64')
})

const wantsSse = (request: FastifyRequest): boolean => (request.headers.accept ?? '').includes('text/event-stream')

export function registerChangeRoutes(app: FastifyInstance, deps: ChangeRoutesDeps): void {
  const { feed } = deps

  app.get('/v1/docs/:name/changes', async (request, reply) => {
    const { name } = request.params as { name: string }
    const parsed = parseDocName(`/${encodeURIComponent(name)}`)
    if (!parsed.ok) return reply.code(400).send(errorBody('ERR_DOC_NAME', parsed.reason))
    const auth = await checkDocRequest(request, parsed.docName, 'read')
    if (!auth.ok) return reply.code(auth.status).send(errorBody(auth.code, auth.message))
    if (!feed.supportsDocs) return reply.code(501).send(errorBody('ERR_FEED_UNSUPPORTED', 'this storage has no change feed'))
    const q = request.query as Query
    const lastEventId = request.headers['last-event-id']
    const after = intParam(typeof lastEventId === 'string' && wantsSse(request) ? lastEventId : q.after, 0, Number.MAX_SAFE_INTEGER)
    const limit = intParam(q.limit, DEFAULT_CHANGES_LIMIT, MAX_CHANGES_LIMIT)
    const waitMs = intParam(q.waitMs, 0, MAX_WAIT_MS)
    if (after === null || limit === null || limit === 0 || waitMs === null) return bad(reply, 'after, limit (1-1000) and waitMs (0-60000) are integers')
    const docName = parsed.docName
    if (wantsSse(request)) {
      let cursor = after
      return streamEvents(request, reply, deps, auth.stillValid, async (signal, waitFor) => {
        const page = await feed.waitDoc(docName, cursor, limit, waitFor, signal)
        cursor = page.cursor
        const events = page.changes.map((c) => ({ id: String(c.seq), event: 'change', data: changeJson({ ...c, doc: docName }) }))
        return page.reset ? [{ id: String(page.cursor), event: 'reset', data: { doc: docName } }, ...events] : events
      })
    }
    let page
    try {
      page = await feed.waitDoc(docName, after, limit, waitMs, abortOnClose(reply))
    } catch (err) {
      request.log.warn({ err }, 'change feed read failed')
      return reply.code(503).send(errorBody('ERR_DOC_LOAD', 'the changes could not be read from storage; retry'))
    }
    return {
      doc: docName,
      cursor: String(page.cursor),
      headSeq: page.headSeq,
      reset: page.reset,
      changes: page.changes.map((c) => changeJson(c))
    }
  })

  app.get('/v1/changes', async (request, reply) => {
    if (!feed.supportsRelay) return reply.code(501).send(errorBody('ERR_FEED_UNSUPPORTED', 'this storage has no change log'))
    const q = request.query as Query
    const lastEventId = request.headers['last-event-id']
    const raw = typeof lastEventId === 'string' && wantsSse(request) ? lastEventId : q.after
    const after = raw === undefined || raw === '' ? null : raw
    if (after !== null && !/^[0-9:]{1,64}$/.test(after)) return bad(reply, 'after is a cursor from an earlier page')
    const limit = intParam(q.limit, DEFAULT_CHANGES_LIMIT, MAX_CHANGES_LIMIT)
    const waitMs = intParam(q.waitMs, 0, MAX_WAIT_MS)
    if (limit === null || limit === 0 || waitMs === null) return bad(reply, 'limit (1-1000) and waitMs (0-60000) are integers')
    if (wantsSse(request)) {
      let cursor = after
      return streamEvents(request, reply, deps, () => true, async (signal, waitFor) => {
        const page = await feed.waitRelay(cursor, limit, waitFor, signal)
        cursor = page.cursor
        return page.changes.map((c) => ({ id: c.cursor, event: 'change', data: changeJson(c) }))
      })
    }
    try {
      const page = await feed.waitRelay(after, limit, waitMs, abortOnClose(reply))
      return { cursor: page.cursor, changes: page.changes.map((c) => ({ ...changeJson(c), cursor: c.cursor })) }
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_STORAGE_INVALID_ARGUMENT') return bad(reply, 'after is a cursor from an earlier page')
      request.log.warn({ err }, 'change log read failed')
      return reply.code(503).send(errorBody('ERR_DOC_LOAD', 'the change log could not be read from storage; retry'))
    }
  })
}

/** Aborted when the client goes away (the response's socket closes before the answer was sent). */
function abortOnClose(reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.once('close', () => controller.abort())
  return controller.signal
}

interface SseEvent {
  id: string
  event: string
  data: unknown
}

/**
 * Streams events until the client goes away or the relay closes. `next(signal,
 * waitMs)` waits up to `waitMs` for changes and returns them as events.
 */
async function streamEvents(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: ChangeRoutesDeps,
  stillValid: () => boolean,
  next: (signal: AbortSignal, waitMs: number) => Promise<SseEvent[]>
): Promise<void> {
  const signal = abortOnClose(reply)
  reply.hijack()
  const res = reply.raw
  // The connection ends with the stream (it is not reused), so nothing idles on it at shutdown.
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', connection: 'close' })
  res.write('retry: 1000\n\n')
  try {
    // Bounded by the client and the relay: each round waits at most a heartbeat.
    while (!signal.aborted && !deps.feed.isClosed) {
      const events = await next(signal, SSE_HEARTBEAT_MS)
      if (signal.aborted) break
      // A token that expired or was revoked meanwhile ends the stream (nothing more is sent), as it would close a socket.
      if (!stillValid()) {
        res.write(`event: error\ndata: ${JSON.stringify(errorBody('ERR_AUTH_EXPIRED', 'the token expired or was revoked; reconnect with a new one and Last-Event-ID'))}\n\n`)
        break
      }
      if (events.length === 0) res.write(': keep-alive\n\n')
      for (const e of events) res.write(`id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`)
    }
  } catch (err) {
    request.log.warn({ err }, 'change feed stream failed')
    if (!signal.aborted) res.write(`event: error\ndata: ${JSON.stringify(errorBody('ERR_DOC_LOAD', 'storage read failed; reconnect with Last-Event-ID'))}\n\n`)
  } finally {
    res.end()
  }
}
