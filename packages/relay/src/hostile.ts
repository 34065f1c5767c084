/**
 * Checks on untrusted Yjs and awareness payloads that the protocol decoder
 * cannot make (it treats them as opaque bytes). Everything here is bounded by
 * the size of its input (itself bounded by the frame limit) and the size of
 * the document.
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { structsOf } from './yjs-internals.js'

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
      let i = Y.findIndexSS(docStructs as never, range.clock)
      for (; i < docStructs.length; i++) {
        const s = docStructs[i]
        if (s === undefined || s.id.clock >= end) break
        if (!s.deleted) return false
      }
    }
  }
  return true
}

/**
 * Keeps only the entries of an awareness update (y-protocols format:
 * `varUint(n)`, then n × `varUint(clientID) varUint(clock) varString(state)`)
 * whose client id `keep` accepts. Returns the re-encoded update (null if no
 * entry is kept) and the ids seen. Throws on malformed input.
 */
export function filterAwareness(update: Uint8Array, keep: (clientId: number) => boolean): { update: Uint8Array | null; ids: number[] } {
  const decoder = decoding.createDecoder(update)
  const count = decoding.readVarUint(decoder)
  const encoder = encoding.createEncoder()
  const kept: { id: number; clock: number; state: string }[] = []
  const ids: number[] = []
  for (let i = 0; i < count; i++) {
    if (!decoding.hasContent(decoder)) throw new RangeError('awareness update truncated')
    const id = decoding.readVarUint(decoder)
    const clock = decoding.readVarUint(decoder)
    const state = decoding.readVarString(decoder)
    ids.push(id)
    if (keep(id)) kept.push({ id, clock, state })
  }
  if (kept.length === 0) return { update: null, ids }
  encoding.writeVarUint(encoder, kept.length)
  for (const k of kept) {
    encoding.writeVarUint(encoder, k.id)
    encoding.writeVarUint(encoder, k.clock)
    encoding.writeVarString(encoder, k.state)
  }
  return { update: encoding.toUint8Array(encoder), ids }
}
