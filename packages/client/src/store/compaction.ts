import * as Y from 'yjs'
import { ClientStoreError } from './errors.js'
import type { ClientStoredUpdate } from './types.js'

/**
 * Folds a snapshot and update records into one new snapshot by applying them
 * to a fresh Y.Doc and re-encoding its state. Y.mergeUpdates is avoided on
 * purpose: it is slow on long lists and keeps redundant deleted content.
 * Updates whose dependencies are missing stay in the doc's pending structs,
 * which Y.encodeStateAsUpdate includes, so nothing is lost.
 *
 * Throws ERR_STORE_IO naming the first record that does not decode, so the
 * caller can abort without deleting anything.
 */
export function foldUpdates(docName: string, snapshot: Uint8Array | null, updates: readonly ClientStoredUpdate[]): Uint8Array {
  const doc = new Y.Doc()
  try {
    if (snapshot !== null) applyOrThrow(doc, snapshot, `snapshot of document '${docName}'`)
    for (const update of updates) applyOrThrow(doc, update.data, `update record ${update.key} of document '${docName}'`)
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}

function applyOrThrow(doc: Y.Doc, data: Uint8Array, what: string): void {
  try {
    Y.applyUpdate(doc, data)
  } catch (error) {
    throw corruptRecord(what, error)
  }
}

export function corruptRecord(what: string, cause?: unknown): ClientStoreError {
  const reason = cause instanceof Error ? `: ${cause.message}` : ''
  return new ClientStoreError('ERR_STORE_IO', `${what} is corrupt${reason}; left in place`, { cause })
}
