/**
 * The version routes of a document (`:name` is the document name,
 * percent-encoded: `notes%2F1`):
 *
 * - `GET  /v1/docs/:name/versions` — the list, oldest first (read).
 * - `POST /v1/docs/:name/versions[?waitFor=replicated:<k>&timeoutMs=]` `{ "label": "…" }` — a named version of the document as this relay holds it (write).
 * - `GET  /v1/docs/:name/versions/:id` — the version as a Yjs update (`application/octet-stream`, V1), or `?format=json`: its content as JSON (read).
 * - `GET  /v1/docs/:name/versions/:id/diff?against=<id|now>` — what changed from version `:id` to `against` (default `now`) (read).
 * - `POST /v1/docs/:name/versions/:id/restore[?waitFor=…&timeoutMs=]` — a `pre-restore` version, then the restore as one forward change; 423 ERR_DOC_READ_ONLY when the document is read-only here (write).
 *
 * Both writes answer the durability they reached (`durability`, `regions`,
 * and with `waitFor` whether it was reached: 202 if not in time), as
 * `POST /v1/docs/:name/updates` does (reachedDurability of docs/doc-write.ts);
 * a restore's is that of the weaker of its two changes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import * as Y from 'yjs'
import { diffVersions, historyDocName, rootKinds, typedRoot, type VersionMeta } from '@meridian/history'
import { parseDocName } from '../doc-name.js'
import type { Access } from '../auth.js'
import { checkDocRequest } from '../docs/http-auth.js'
import { DEFAULT_WAIT_TIMEOUT_MS, MAX_WAIT_TIMEOUT_MS, intParam, parseWaitFor } from '../docs/doc-routes.js'
import { reachedDurability, type DurabilityDeps, type WriteOptions, type WriteResult } from '../docs/doc-write.js'
import { errorBody } from '../docs/http-errors.js'
import { historyFailureStatus, type HistoryService } from './history-service.js'

export interface HistoryRouteDeps {
  service: HistoryService
  /** What the durability of a version write is read from (the document API's). */
  durability: DurabilityDeps
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

/** `?waitFor=replicated:<k>&timeoutMs=` as `POST /v1/docs/:name/updates` takes them; throws ERR_BAD_REQUEST. */
function waitOptions(query: unknown): Pick<WriteOptions, 'waitForReplicated' | 'timeoutMs'> {
  const q = (query ?? {}) as Record<string, string | undefined>
  const timeoutMs = intParam(q.timeoutMs, 'timeoutMs', DEFAULT_WAIT_TIMEOUT_MS, 0, MAX_WAIT_TIMEOUT_MS)
  return q.waitFor === undefined ? { timeoutMs } : { timeoutMs, waitForReplicated: parseWaitFor(q.waitFor) }
}

/** The durability fields of an answer, and its status: `ok`, or 202 when the replication asked for was not reached in time. */
function durabilityAnswer(result: WriteResult, ok: number): { status: number; fields: Omit<WriteResult, 'changed'> } {
  const { changed: _changed, ...fields } = result
  return { status: result.waitFor?.satisfied === false ? 202 : ok, fields }
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
      const wait = waitOptions(request.query)
      const { version, trackedSeq } = await service.create(who.docName, { kind: 'named', label: label ?? '', author: who.actor, actor: who.actor })
      const { status, fields } = durabilityAnswer(await reachedDurability(deps.durability, historyDocName(who.docName), trackedSeq, true, wait), 201)
      return reply.code(status).send({ docName: who.docName, version: versionJson(version), ...fields })
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
      const wait = waitOptions(request.query)
      const { preRestore, trackedSeqs } = await service.restore(who.docName, id, who.actor)
      const parts = [reachedDurability(deps.durability, historyDocName(who.docName), trackedSeqs.preRestore, true, wait)]
      // A restore to the content the document holds changes nothing: only the pre-restore version travels.
      if (trackedSeqs.restore !== null) parts.push(reachedDurability(deps.durability, who.docName, trackedSeqs.restore, true, wait))
      const weakest = (await Promise.all(parts)).reduce((a, b) => ((b.regions?.held ?? 0) < (a.regions?.held ?? 0) ? b : a))
      const { status, fields } = durabilityAnswer(weakest, 200)
      return reply.code(status).send({ docName: who.docName, restored: id, preRestore: versionJson(preRestore), ...fields })
    } catch (err) {
      return fail(reply, err)
    }
  })
}
