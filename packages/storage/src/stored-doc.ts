import * as Y from 'yjs'
import type { StoredDocument } from './types.js'

/**
 * Applies a stored document (its snapshot, then the updates after it) to
 * `doc` in one transaction with `origin`. Throws what Yjs throws for an update
 * it cannot read; `null` (no such document) changes nothing.
 */
export function applyStoredDocument(doc: Y.Doc, stored: StoredDocument | null, origin: unknown = null): void {
  if (stored === null) return
  doc.transact(() => {
    if (stored.snapshot !== null) Y.applyUpdate(doc, stored.snapshot, origin)
    for (const u of stored.updates) Y.applyUpdate(doc, u.data, origin)
  }, origin)
}

/** A new document holding what `stored` holds (empty for `null`). */
export function docFromStored(stored: StoredDocument | null, options: { gc?: boolean } = {}): Y.Doc {
  const doc = new Y.Doc({ gc: options.gc ?? true })
  try {
    applyStoredDocument(doc, stored)
  } catch (err) {
    doc.destroy()
    throw err
  }
  return doc
}
