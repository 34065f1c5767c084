import { HISTORY_DOC_PREFIX } from '@meridian/history'

/** Longest document name, in UTF-8 bytes (storage adapters accept at least this). */
export const MAX_DOC_NAME_BYTES = 512

/** Paths that are endpoints, never documents. */
const RESERVED = /^(healthz|readyz|metrics|v1|_meridian)(\/|$)/

export type DocNameResult = { ok: true; docName: string } | { ok: false; reason: string }

/**
 * The document name is the URL path (without the leading slash and the query),
 * percent-decoded — what y-websocket's `serverUrl + '/' + room` produces.
 */
export function parseDocName(url: string): DocNameResult {
  const path = url.split('?', 1)[0] ?? ''
  let name: string
  try {
    name = decodeURIComponent(path.replace(/^\/+/, ''))
  } catch {
    return { ok: false, reason: 'ERR_DOC_NAME: not valid percent-encoding' }
  }
  return checkDocName(name)
}

/**
 * The rules of a document name, already decoded: what a multiplexed socket's
 * `doc-open` names (a string, not a URL path) is checked as a path's name is.
 */
export function checkDocName(name: string): DocNameResult {
  if (name.length === 0) return { ok: false, reason: 'ERR_DOC_NAME: empty' }
  if (Buffer.byteLength(name, 'utf8') > MAX_DOC_NAME_BYTES) return { ok: false, reason: 'ERR_DOC_NAME: too long' }
  // One form of the reserved prefix is a document: `_meridian/history/<name>`, the versions of `<name>` (@meridian/history).
  const checked = name.startsWith(HISTORY_DOC_PREFIX) ? name.slice(HISTORY_DOC_PREFIX.length) : name
  if (checked.length === 0) return { ok: false, reason: 'ERR_DOC_NAME: empty' }
  if (RESERVED.test(checked)) return { ok: false, reason: 'ERR_DOC_NAME: reserved path' }
  if (/[\u0000-\u001f\u007f]/.test(name)) return { ok: false, reason: 'ERR_DOC_NAME: control characters' }
  return { ok: true, docName: name }
}
