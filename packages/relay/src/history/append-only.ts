/**
 * History documents are append-only for clients: versions are immutable, and
 * only the relay removes them (retention). A client update whose delete set
 * covers an item that is alive in the relay's copy is refused
 * (ERR_HISTORY_APPEND_ONLY) before anything is applied.
 *
 * Deletions of what the relay already has deleted (or collected) change
 * nothing and pass: a client resyncing sends its whole delete set, which
 * holds the retention removals and Y.Map conflict losers it received. A
 * deletion of an item the relay does not have yet (carried in the same
 * update) passes too: it removes nothing the relay holds.
 */
import * as Y from 'yjs'
import { RelayError } from '../errors.js'
import { structsOf } from '../yjs-internals.js'

type Struct = Y.Item | Y.GC | Y.Skip

/** Throws ERR_HISTORY_APPEND_ONLY when `update` would delete a live item of `doc`. Work: the delete set's ranges times the structs they cover. */
export function refuseLiveDeletes(doc: Y.Doc, update: Uint8Array): void {
  let ds: { clients: Map<number, { clock: number; len: number }[]> }
  try {
    ds = (Y.decodeUpdate(update) as unknown as { ds: typeof ds }).ds
  } catch (cause) {
    throw new RelayError('ERR_UPDATE_INVALID', undefined, { cause })
  }
  for (const [client, ranges] of ds.clients) {
    const structs = structsOf(doc, client) as Struct[] | undefined
    if (structs === undefined || structs.length === 0) continue
    const last = structs[structs.length - 1] as Struct
    const end = last.id.clock + last.length
    for (const range of ranges) {
      if (range.len <= 0 || range.clock >= end) continue
      for (let i = Y.findIndexSS(structs as never, range.clock); i < structs.length; i++) {
        const s = structs[i] as Struct
        if (s.id.clock >= range.clock + range.len) break
        if (s instanceof Y.Item && !s.deleted) {
          throw new RelayError('ERR_HISTORY_APPEND_ONLY', `the update deletes ${client}:${s.id.clock}`)
        }
      }
    }
  }
}
