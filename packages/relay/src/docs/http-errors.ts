/**
 * How the HTTP document API reports errors: `{ error: { code, message } }`
 * with a status chosen by the code (one entry per relay error code, so a new
 * code does not compile until it has a status). Fastify's own errors (a body
 * too large, a bad content type, malformed JSON) are mapped to relay codes.
 */
import type { FastifyError, FastifyInstance } from 'fastify'
import { isStorageError } from '@meridian/storage'
import { RELAY_ERROR_CODES, RelayError, isRelayError, type RelayErrorCode } from '../errors.js'

export const HTTP_STATUS: Readonly<Record<RelayErrorCode, number>> = {
  ERR_RELAY_OPTIONS: 500,
  ERR_RELAY_CLOSED: 503,
  ERR_DOC_NAME: 400,
  ERR_DOC_LOAD: 503,
  ERR_DOC_CORRUPT: 500,
  ERR_UPDATE_INVALID: 400,
  ERR_UPDATE_TOO_DEEP: 400,
  ERR_UPDATE_TOO_COSTLY: 400,
  ERR_DOC_BROKEN: 500,
  ERR_STORAGE_WRITE: 503,
  ERR_PROTOCOL: 400,
  ERR_AWARENESS_INVALID: 400,
  ERR_UPDATE_MISSING_DEPS: 422,
  ERR_AUTH_REQUIRED: 401,
  ERR_AUTH_INVALID: 401,
  ERR_AUTH_EXPIRED: 401,
  ERR_AUTH_REVOKED: 401,
  ERR_AUTH_FORBIDDEN: 403,
  ERR_AUTH_TIMEOUT: 401,
  ERR_ORIGIN: 403,
  ERR_READ_ONLY: 403,
  ERR_DOC_READ_ONLY: 423,
  ERR_DOC_TOO_LARGE: 413,
  ERR_RATE_LIMITED: 429,
  ERR_TOO_MANY_CONNECTIONS: 503,
  ERR_TOO_MANY_DOCS: 503,
  ERR_SLOW_CONSUMER: 503,
  ERR_IDLE_TIMEOUT: 408,
  ERR_LOADING_QUEUE_FULL: 503,
  ERR_MEMORY_BUDGET: 503,
  ERR_DOC_DELETED: 410,
  ERR_DOC_NOT_FOUND: 404,
  ERR_DOC_EXISTS: 409,
  ERR_BAD_REQUEST: 400,
  ERR_BODY_TOO_LARGE: 413,
  ERR_ADMIN_AUTH: 401,
  ERR_NOT_SUPPORTED: 501,
  ERR_FEED_CURSOR: 400,
  ERR_FEED_UNSUPPORTED: 501,
  ERR_WEBHOOK_UNKNOWN: 404,
  ERR_WEBHOOK_NOT_LEADER: 409,
  ERR_HISTORY_APPEND_ONLY: 403
}

export interface HttpErrorBody {
  error: { code: string; message: string }
}

/** The one error body of every `/v1/docs/**` and `/v1/changes` route (and of a change stream's `error` event). */
export function errorBody(code: string, message: string): HttpErrorBody {
  return { error: { code, message } }
}

/** The relay error a failure of the API stands for (anything unknown is a 500 with a generic code). */
export function toRelayError(err: unknown): RelayError {
  if (isRelayError(err)) return err
  if (isStorageError(err)) {
    return err.code === 'ERR_STORAGE_INVALID_ARGUMENT'
      ? new RelayError('ERR_BAD_REQUEST', err.message, { cause: err })
      : new RelayError('ERR_STORAGE_WRITE', 'storage failed; retry', { cause: err })
  }
  const fastify = err as Partial<FastifyError>
  switch (fastify.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RelayError('ERR_BODY_TOO_LARGE')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new RelayError('ERR_BAD_REQUEST', 'send the body as application/octet-stream', { cause: err })
    default:
      if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
        return new RelayError('ERR_BAD_REQUEST', fastify.message, { cause: err })
      }
      return new RelayError('ERR_DOC_BROKEN', 'internal error', { cause: err })
  }
}

/** Installs the `{ error: { code, message } }` handler on `app` (the document API's own scope). */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler(async (err, request, reply) => {
    const error = toRelayError(err)
    const status = HTTP_STATUS[error.code]
    if (status >= 500) request.log.error({ err }, 'document API request failed')
    const body: HttpErrorBody = { error: { code: error.code, message: status >= 500 && error.code === 'ERR_DOC_BROKEN' ? RELAY_ERROR_CODES.ERR_DOC_BROKEN : error.message } }
    return reply.code(status).type('application/json').send(body)
  })
}
