/**
 * Checks on untrusted Yjs payloads that the protocol decoder
 * cannot make (it treats them as opaque bytes). Everything here is bounded by
 * the size of its input (itself bounded by the frame limit) and the size of
 * the document.
 */
import * as Y from 'yjs'
import { findStructIndex, structsOf } from './yjs-internals.js'

/**
 * True if the document already contains everything `update` carries: every
 * struct is within the document's state vector and every deletion is already
 * deleted there. Such an update would change nothing (a read-only client's
 * handshake reply is one). Throws if Yjs cannot decode the update.
 */
export function updateIsKnown(doc: Y.Doc, update: Uint8Array): boolean {
  const { structs, ds } = Y.decodeUpdate(update)
  for (const struct of structs) {
    if (struct instanceof Y.Skip) continue
    if (struct.id.clock + struct.length > Y.getState(doc.store, struct.id.client)) return false
  }
  for (const [client, ranges] of ds.clients) {
    const docStructs = structsOf(doc, client)
    for (const range of ranges) {
      if (range.len <= 0) continue
      const end = range.clock + range.len
      if (docStructs === undefined || end > Y.getState(doc.store, client)) return false
      let i = findStructIndex(docStructs, range.clock)
      for (; i < docStructs.length; i++) {
        const s = docStructs[i]
        if (s === undefined || s.id.clock >= end) break
        if (!s.deleted) return false
      }
    }
  }
  return true
}
