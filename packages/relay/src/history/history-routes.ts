/**
 * The version routes of a document (`:name` is the document name,
 * percent-encoded: `notes%2F1`):
 *
 * - `GET  /v1/docs/:name/versions` — the list, oldest first (read).
 * - `POST /v1/docs/:name/versions` `{ "label": "…" }` — a named version of the document as this relay holds it (write).
 * - `GET  /v1/docs/:name/versions/:id` — the version as a Yjs update (`application/octet-stream`, V1), or `?format=json`: its content as JSON (read).
 * - `GET  /v1/docs/:name/versions/:id/diff?against=<id|now>` — what changed from version `:id` to `against` (default `now`) (read).
 * - `POST /v1/docs/:name/versions/:id/restore` — a `pre-restore` version, then the restore as one forward change; 409 ERR_DOC_READ_ONLY when the document is read-only here (write).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import * as Y from 'yjs'
import { diffVersions, rootKinds, typedRoot, type VersionMeta } from '@meridian/history'
import { parseDocName } from '../doc-name.js'
import type { Access } from '../auth.js'
import { checkDocRequest } from '../docs/http-auth.js'
import { errorBody } from '../docs/http-errors.js'
import { historyFailureStatus, type HistoryService } from './history-service.js'

export interface HistoryRouteDeps {
  service: HistoryService
}

const MAX_LABEL_CHARS = 200

/** A version as JSON: bytes as base64, times also as ISO strings. */
export function versionJson(v: VersionMeta): Record<string, unknown> {
  return {
    id: v.id,
    label: v.label,
    kind: v.kind,
    author: v.author,
    createdAtMs: v.createdAtMs,
    createdAt: new Date(v.createdAtMs).toISOString(),
    contentHash: v.contentHash,
    sizeBytes: v.sizeBytes,
    stateVector: Buffer.from(v.stateVector).toString('base64')
  }
}

/** The content of a document as JSON, root by root (kinds inferred: root-kinds.ts of @meridian/history). */
export function contentJson(doc: Y.Doc): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, kind] of rootKinds(doc)) {
    if (kind === 'empty') continue
    const root = typedRoot(doc, name, kind)
    out[name] = root instanceof Y.XmlFragment ? root.toString() : root.toJSON()
  }
  return out
}

export function registerHistoryRoutes(app: FastifyInstance, deps: HistoryRouteDeps): void {
  const { service } = deps

  /** The document name of the request, authorized for `need`; null when a reply was sent. */
  const authorized = async (request: FastifyRequest, reply: FastifyReply, need: Access): Promise<{ docName: string; actor: string } | null> => {
    const raw = (request.params as { name?: string }).name ?? ''
    const parsed = parseDocName(encodeURIComponent(raw))
    if (!parsed.ok || parsed.docName.startsWith('_meridian/')) {
      await reply.code(400).send(errorBody('ERR_DOC_NAME', parsed.ok ? 'not a document with versions' : parsed.reason))
      return null
    }
    const result = await checkDocRequest(request, parsed.docName, need)
    if (!result.ok) {
      await reply.code(result.status).send(errorBody(result.code, result.message))
      return null
    }
    return { docName: parsed.docName, actor: result.actor }
  }

  const fail = (reply: FastifyReply, err: unknown): FastifyReply => {
    const { status, code, message } = historyFailureStatus(err)
    if (status >= 500) reply.log.error({ err }, 'version operation failed')
    return reply.code(status).send(errorBody(code, message))
  }

  app.get('/v1/docs/:name/versions', async (request, reply) => {
    const who = await authorized(request, reply, 'read')
    if (who === null) return reply
    try {
      const versions = await service.list(who.docName)
      return { docName: who.docName, versions: versions.map(versionJson) }
    } catch (err) {
      return fail(reply, err)
    }
  })

  app.post('/v1/docs/:name/versions', async (request, reply) => {
    const who = await authorized(request, reply, 'write')
    if (who === null) return reply
    const label = (request.body as { label?: unknown } | null | undefined)?.label
    if (label !== undefined && (typeof label !== 'string' || label.length > MAX_LABEL_CHARS)) {
      return reply.code(400).send(errorBody('ERR_BAD_REQUEST', `label must be a string of at most ${MAX_LABEL_CHARS} characters`))
    }
    try {
      const { version } = await service.create(who.docName, { kind: 'named', label: label ?? '', author: who.actor, actor: who.actor })
      return reply.code(201).send({ docName: who.docName, version: versionJson(version) })
    } catch (err) {
      return fail(reply, err)
    }
  })

  app.get('/v1/docs/:name/versions/:id', async (request, reply) => {
    const who = await authorized(request, reply, 'read')
    if (who === null) return reply
    const { id } = request.params as { id: string }
    const format = (request.query as { format?: string }).format
    try {
      const doc = await service.open(who.docName, id)
      try {
        if (format === 'json') return { docName: who.docName, id, content: contentJson(doc) }
        return reply.header('content-type', 'application/octet-stream').send(Buffer.from(Y.encodeStateAsUpdate(doc)))
      } finally {
        doc.destroy()
      }
    } catch (err) {
      return fail(reply, err)
    }
  })

  app.get('/v1/docs/:name/versions/:id/diff', async (request, reply) => {
    const who = await authorized(request, reply, 'read')
    if (who === null) return reply
    const { id } = request.params as { id: string }
    const against = (request.query as { against?: string }).against ?? 'now'
    try {
      const older = await service.open(who.docName, id)
      try {
        const newer = against === 'now' ? await service.current(who.docName) : await service.open(who.docName, against)
        try {
          return { docName: who.docName, from: id, to: against, ...diffVersions(older, newer) }
        } finally {
          newer.destroy()
        }
      } finally {
        older.destroy()
      }
    } catch (err) {
      return fail(reply, err)
    }
  })

  app.post('/v1/docs/:name/versions/:id/restore', async (request, reply) => {
    const who = await authorized(request, reply, 'write')
    if (who === null) return reply
    const { id } = request.params as { id: string }
    try {
      const { preRestore } = await service.restore(who.docName, id, who.actor)
      return { docName: who.docName, restored: id, preRestore: versionJson(preRestore) }
    } catch (err) {
      return fail(reply, err)
    }
  })
}
