/**
 * The HTTP document API, `/v1/docs` (README "Documents from your backend"):
 *
 *   GET    /v1/docs?prefix=&limit=&cursor=        list (name, stored bytes, last seq), paginated
 *   GET    /v1/docs/:name[?stateVector=]           the document as a Yjs update (or the diff)
 *   GET    /v1/docs/:name/json[?types=]            JSON projection of its root types (doc-json.ts)
 *   POST   /v1/docs/:name/updates[?waitFor=&timeoutMs=]  apply a Yjs update (doc-write.ts)
 *   PUT    /v1/docs/:name                          create with initial content (409 if it exists)
 *   DELETE /v1/docs/:name                          delete, tombstoned (tombstones.ts)
 *
 * A name with `/` is sent percent-encoded (`team%2Fnotes`). Authorization per
 * request: http-auth.ts. Errors: `{ error: { code, message } }` (http-errors.ts).
 */
import * as Y from 'yjs'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { StorageAdapter } from '@meridian/storage'
import { MAX_DOC_NAME_BYTES, parseDocName } from '../doc-name.js'
import { RelayError } from '../errors.js'
import type { Room } from '../room.js'
import { isSystemDocument, type RoomManager } from '../rooms.js'
import { authorizeDocRequest } from './http-auth.js'
import { installErrorHandler } from './http-errors.js'
import { parseTypes, projectJson } from './doc-json.js'
import { applyServerWrite, type WriteDeps } from './doc-write.js'
import type { DocTombstones } from './tombstones.js'

export interface DocRoutesDeps extends WriteDeps {
  rooms: RoomManager
  storage: StorageAdapter
  tombstones: DocTombstones
  /** Largest request body (the relay's `maxMessageBytes`: an update by HTTP is held to the socket's frame limit). */
  maxBodyBytes: number
}

export const DEFAULT_LIST_LIMIT = 100
export const MAX_LIST_LIMIT = 1000
export const DEFAULT_WAIT_TIMEOUT_MS = 10_000
export const MAX_WAIT_TIMEOUT_MS = 60_000

type NameParams = { Params: { name: string }; Querystring: Record<string, string | undefined> }

export async function registerDocRoutes(app: FastifyInstance, deps: DocRoutesDeps): Promise<void> {
  // Its own scope: the error handler and the binary body parser apply to these routes only.
  await app.register(async (scope) => {
    installErrorHandler(scope)
    // Any content type but JSON is read as raw bytes, so `curl --data-binary @file` works as is.
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: deps.maxBodyBytes }, (_request, body, done) => done(null, body))
    const bodyLimit = deps.maxBodyBytes

    scope.get('/v1/docs', async (request: FastifyRequest<{ Querystring: Record<string, string | undefined> }>) => {
      const auth = await authorizeDocRequest(request, null, 'read')
      const list = deps.storage.listDocuments
      if (list === undefined) throw new RelayError('ERR_NOT_SUPPORTED', 'listing needs a storage with listDocuments')
      const q = request.query
      const prefix = q.prefix ?? ''
      if (Buffer.byteLength(prefix) > MAX_DOC_NAME_BYTES) throw new RelayError('ERR_BAD_REQUEST', 'prefix too long')
      const limit = intParam(q.limit, 'limit', DEFAULT_LIST_LIMIT, 1, MAX_LIST_LIMIT)
      const after = q.cursor === undefined || q.cursor === '' ? undefined : decodeCursor(q.cursor)
      const page = await list.call(deps.storage, { prefix, limit, ...(after !== undefined ? { after } : {}) })
      const documents = page
        .filter((e) => !isSystemDocument(e.docName) && auth.canRead(e.docName))
        .map((e) => ({ name: e.docName, bytes: e.bytes, lastSeq: e.lastSeq, lastChangeAtMs: e.lastChangeAtMs }))
      const last = page.at(-1)
      return { documents, nextCursor: page.length === limit && last !== undefined ? Buffer.from(last.docName).toString('base64url') : null }
    })

    scope.get('/v1/docs/:name', async (request: FastifyRequest<NameParams>, reply) => {
      const name = docName(request.params.name)
      await authorizeDocRequest(request, name, 'read')
      if (request.query.format === 'json') return reply.send(await readJson(deps, name, request.query.types))
      const stateVector = request.query.stateVector === undefined ? null : decodeBase64url(request.query.stateVector, 'stateVector')
      return withRoom(deps, name, (room) => {
        requireContent(room)
        let update: Uint8Array
        try {
          update = stateVector === null ? Y.encodeStateAsUpdate(room.doc) : Y.encodeStateAsUpdate(room.doc, stateVector)
        } catch (cause) {
          throw new RelayError('ERR_BAD_REQUEST', 'stateVector is not a Yjs state vector', { cause })
        }
        return reply
          .type('application/octet-stream')
          .header('x-meridian-state-vector', Buffer.from(Y.encodeStateVector(room.doc)).toString('base64url'))
          .send(Buffer.from(update.buffer, update.byteOffset, update.byteLength))
      })
    })

    scope.get('/v1/docs/:name/json', async (request: FastifyRequest<NameParams>) => {
      const name = docName(request.params.name)
      await authorizeDocRequest(request, name, 'read')
      return readJson(deps, name, request.query.types)
    })

    scope.post('/v1/docs/:name/updates', { bodyLimit }, async (request: FastifyRequest<NameParams>, reply) => {
      const name = docName(request.params.name)
      const auth = await authorizeDocRequest(request, name, 'write')
      const update = binaryBody(request.body)
      const q = request.query
      const waitFor = q.waitFor === undefined ? undefined : parseWaitFor(q.waitFor)
      const timeoutMs = intParam(q.timeoutMs, 'timeoutMs', DEFAULT_WAIT_TIMEOUT_MS, 0, MAX_WAIT_TIMEOUT_MS)
      const result = await withRoom(deps, name, (room) => applyServerWrite(room, update, deps, {
        actor: auth.actor, timeoutMs, ...(waitFor !== undefined ? { waitForReplicated: waitFor } : {})
      }))
      // Committed here either way; 202 says the replication asked for was not reached in time.
      return reply.code(result.waitFor?.satisfied === false ? 202 : 200).send(result)
    })

    scope.put('/v1/docs/:name', { bodyLimit }, async (request: FastifyRequest<NameParams>, reply) => {
      const name = docName(request.params.name)
      const auth = await authorizeDocRequest(request, name, 'write')
      const update = binaryBody(request.body)
      const result = await withRoom(deps, name, (room) => {
        // Checked and applied in one turn: two creates on this relay cannot both pass.
        if (hasContent(room)) throw new RelayError('ERR_DOC_EXISTS', name)
        return applyServerWrite(room, update, deps, { actor: auth.actor, timeoutMs: 0 })
      })
      if (!result.changed) throw new RelayError('ERR_BAD_REQUEST', 'the body holds no content: a document exists once it has some')
      return reply.code(201).send(result)
    })

    scope.delete('/v1/docs/:name', async (request: FastifyRequest<NameParams>) => {
      const name = docName(request.params.name)
      await authorizeDocRequest(request, name, 'write')
      if (!deps.tombstones.supported) throw new RelayError('ERR_NOT_SUPPORTED', 'deleting needs a storage with tombstones')
      if (!(await deps.tombstones.isDeleted(name))) {
        // Only what exists here is deleted (a name never stored would leave a tombstone nobody asked for).
        const exists = await withRoom(deps, name, (room) => hasContent(room))
        if (!exists) throw new RelayError('ERR_DOC_NOT_FOUND', name)
      }
      const tombstone = await deps.tombstones.delete(name, { kind: 'api', actor: 'http' })
      return { deleted: true, name, deletedAtMs: tombstone.deletedAtMs }
    })
  })
}

async function readJson(deps: DocRoutesDeps, name: string, typesParam: string | undefined): Promise<unknown> {
  const types = parseTypes(typesParam ?? '')
  const state = await withRoom(deps, name, (room) => {
    requireContent(room)
    return Y.encodeStateAsUpdate(room.doc)
  })
  return { name, ...projectJson(state, types) }
}

/** Runs `fn` with the document loaded (held meanwhile); a deleted document is ERR_DOC_DELETED. */
async function withRoom<T>(deps: DocRoutesDeps, name: string, fn: (room: Room) => T | Promise<T>): Promise<T> {
  const room = await deps.rooms.acquire(name)
  try {
    return await fn(room)
  } finally {
    deps.rooms.release(room)
  }
}

const hasContent = (room: Room): boolean => room.doc.store.clients.size > 0

function requireContent(room: Room): void {
  if (!hasContent(room)) throw new RelayError('ERR_DOC_NOT_FOUND', room.name)
}

/** The route parameter (percent-decoded by the router) checked like a socket's document name. */
function docName(raw: string): string {
  const parsed = parseDocName(`/${encodeURIComponent(raw)}`)
  if (!parsed.ok) throw new RelayError('ERR_DOC_NAME', parsed.reason.replace(/^ERR_DOC_NAME: /, ''))
  return parsed.docName
}

function binaryBody(body: unknown): Uint8Array {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new RelayError('ERR_BAD_REQUEST', 'send a binary Yjs update as the body')
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
}

export function intParam(value: string | undefined, what: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new RelayError('ERR_BAD_REQUEST', `${what} must be an integer between ${min} and ${max}`)
  return n
}

/** `replicated:k`: wait until k other regions hold the write. */
export function parseWaitFor(value: string): number {
  const match = /^replicated:(\d{1,3})$/.exec(value)
  const k = match === null ? NaN : Number(match[1])
  if (!Number.isSafeInteger(k) || k < 1) throw new RelayError('ERR_BAD_REQUEST', 'waitFor must be replicated:<k>, k >= 1')
  return k
}

function decodeBase64url(value: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(value) || value.length > 1_000_000) throw new RelayError('ERR_BAD_REQUEST', `${what} must be base64url`)
  return new Uint8Array(Buffer.from(value, 'base64url'))
}

function decodeCursor(value: string): string {
  const name = Buffer.from(decodeBase64url(value, 'cursor')).toString('utf8')
  if (name.length === 0 || Buffer.byteLength(name) > MAX_DOC_NAME_BYTES) throw new RelayError('ERR_BAD_REQUEST', 'cursor is not one this relay gave')
  return name
}
