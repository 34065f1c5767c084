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
 *
 * A Y.Map entry written on a key that already holds a version deletes the old
 * entry without naming it in the delete set, so such a write is refused too,
 * unless it is the same version again (same id and content hash: two relays
 * or clients taking the automatic version of one state write the same key).
 */
import * as Y from 'yjs'
import { RelayError } from '../errors.js'
import { findStructIndex, structsOf } from '../yjs-internals.js'
import { VERSIONS_ROOT } from '@meridian/history'

type Struct = Y.Item | Y.GC | Y.Skip

/** Throws ERR_HISTORY_APPEND_ONLY when `update` would delete or replace a version of `doc` (see above). */
export function refuseHistoryRewrites(doc: Y.Doc, update: Uint8Array): void {
  refuseLiveDeletes(doc, update)
  refuseVersionOverwrites(doc, update)
}

/** Throws ERR_HISTORY_APPEND_ONLY when `update` writes a different record on a key of `versions` that holds one. */
export function refuseVersionOverwrites(doc: Y.Doc, update: Uint8Array): void {
  let structs: readonly Struct[]
  try {
    structs = (Y.decodeUpdate(update) as unknown as { structs: Struct[] }).structs
  } catch (cause) {
    throw new RelayError('ERR_UPDATE_INVALID', undefined, { cause })
  }
  const versions = doc.share.has(VERSIONS_ROOT) ? doc.getMap<unknown>(VERSIONS_ROOT) : null
  if (versions === null) return
  const known = Y.decodeStateVector(Y.encodeStateVector(doc))
  for (const s of structs) {
    // A decoded struct names its parent by root name (a string) or by the id of a nested type.
    if (!(s instanceof Y.Item) || (s.parent as unknown) !== VERSIONS_ROOT || s.parentSub === null) continue
    // What the relay holds already (a resync resends it) replaces nothing.
    if (s.id.clock < (known.get(s.id.client) ?? 0)) continue
    const existing = versions.get(s.parentSub)
    if (existing === undefined) continue
    const written: unknown = s.content instanceof Y.ContentAny ? s.content.arr[0] : undefined
    if (!sameVersion(existing, written)) throw new RelayError('ERR_HISTORY_APPEND_ONLY', `the update replaces version ${s.parentSub}`)
  }
}

const field = (v: unknown, key: string): unknown => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined)

function sameVersion(a: unknown, b: unknown): boolean {
  const id = field(a, 'id')
  const hash = field(a, 'contentHash')
  return typeof id === 'string' && typeof hash === 'string' && field(b, 'id') === id && field(b, 'contentHash') === hash
}

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
      for (let i = findStructIndex(structs, range.clock); i < structs.length; i++) {
        const s = structs[i] as Struct
        if (s.id.clock >= range.clock + range.len) break
        if (s instanceof Y.Item && !s.deleted) {
          throw new RelayError('ERR_HISTORY_APPEND_ONLY', `the update deletes ${client}:${s.id.clock}`)
        }
      }
    }
  }
}
