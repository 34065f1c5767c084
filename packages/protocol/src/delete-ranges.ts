/**
 * Delete sets as plain sorted ranges, for FEATURE_DS_DIGEST (PROTOCOL.md,
 * "Delete-set digest"). A Yjs sync step 2 carries the sender's whole delete
 * set, because deletions do not show in a state vector: about 45 KB for a
 * 100k-operation text even when nothing changed. With the feature, a step 2
 * carries only the deletes of the structs it sends (clocks at or past the
 * peer's state vector) plus deletes the sender knows the peer lacks (its
 * unacknowledged local edits), and the rest — deletes of structs both sides
 * already hold — is checked by comparing one digest.
 *
 * Ranges are normalised (per client: sorted, non-overlapping, adjacent runs
 * merged), so two replicas that deleted the same clocks encode them to the
 * same bytes and hash to the same digest, however their structs were split.
 */
import * as encoding from 'lib0/encoding'
import { digest as sha256 } from 'lib0/hash/sha256'
import * as Y from 'yjs'
import { ProtocolError } from './errors.js'
import { frame } from './frame.js'

/** Per client id: deleted clock ranges as [clock, length], sorted, merged, never empty. */
export type DeleteRanges = Map<number, Array<[clock: number, len: number]>>

/** Per client id: a clock (a decoded state vector, or the bounds of a digest). */
export type ClockBounds = Map<number, number>

/** Bytes of a delete-set digest. 128 bits: a collision would silently hide a delete. */
export const DS_DIGEST_BYTES = 16

interface CachedRanges { ranges: DeleteRanges; encoded: Uint8Array | null; digest: Uint8Array | null; clocks: number | null }

/**
 * Per document, its delete ranges until a transaction deletes something: a
 * relay answers every reconnecting client's step 1 and digest from them, and
 * walking a large document's structs costs milliseconds. Only deletions change
 * them (new structs, splits and garbage collection do not).
 */
const cache = new WeakMap<Y.Doc, CachedRanges>()
const watched = new WeakSet<Y.Doc>()

const cachedRanges = (doc: Y.Doc): CachedRanges => {
  let entry = cache.get(doc)
  if (entry !== undefined) return entry
  if (!watched.has(doc)) {
    watched.add(doc)
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      if (tr.deleteSet.clients.size > 0) cache.delete(doc)
    })
  }
  const ranges: DeleteRanges = new Map()
  for (const [client, items] of Y.createDeleteSetFromStructStore(doc.store).clients) {
    // Yjs merges runs of deleted structs, so these are already maximal runs.
    ranges.set(client, items.map((item): [number, number] => [item.clock, item.len]))
  }
  entry = { ranges, encoded: null, digest: null, clocks: null }
  cache.set(doc, entry)
  return entry
}

/**
 * Every deleted clock range of the document (garbage-collected structs count
 * as deleted). Shared and cached: treat the result as read-only.
 */
export const deleteRangesOf = (doc: Y.Doc): DeleteRanges => cachedRanges(doc).ranges

/** The delete ranges an update carries (its structs are decoded too: meant for small updates). */
export const deleteRangesOfUpdate = (update: Uint8Array): DeleteRanges => {
  const out: DeleteRanges = new Map()
  for (const [client, items] of Y.decodeUpdate(update).ds.clients) {
    out.set(client, normalise(items.map((item): [number, number] => [item.clock, item.len])))
  }
  return out
}

const normalise = (ranges: Array<[number, number]>): Array<[number, number]> => {
  const sorted = ranges.filter((r) => r[1] > 0).sort((a, b) => a[0] - b[0])
  const out: Array<[number, number]> = []
  for (const [clock, len] of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && clock <= last[0] + last[1]) {
      last[1] = Math.max(last[1], clock + len - last[0])
    } else {
      out.push([clock, len])
    }
  }
  return out
}

/** Union of delete ranges (normalised). */
export const unionDeleteRanges = (sets: readonly DeleteRanges[]): DeleteRanges => {
  const all = new Map<number, Array<[number, number]>>()
  for (const set of sets) {
    for (const [client, ranges] of set) {
      const into = all.get(client)
      if (into === undefined) all.set(client, ranges.map((r): [number, number] => [r[0], r[1]]))
      else for (const r of ranges) into.push([r[0], r[1]])
    }
  }
  const out: DeleteRanges = new Map()
  for (const [client, ranges] of all) {
    const merged = normalise(ranges)
    if (merged.length > 0) out.set(client, merged)
  }
  return out
}

/** `a` without what `b` holds (both normalised). */
export const subtractDeleteRanges = (a: DeleteRanges, b: DeleteRanges): DeleteRanges => {
  const out: DeleteRanges = new Map()
  for (const [client, ranges] of a) {
    const cut = b.get(client) ?? []
    const kept: Array<[number, number]> = []
    let j = 0
    for (const [clock, len] of ranges) {
      let from = clock
      const end = clock + len
      while (j < cut.length && (cut[j] as [number, number])[0] + (cut[j] as [number, number])[1] <= from) j++
      let k = j
      while (from < end && k < cut.length) {
        const [cClock, cLen] = cut[k] as [number, number]
        if (cClock >= end) break
        if (cClock > from) kept.push([from, cClock - from])
        from = Math.max(from, cClock + cLen)
        if (cClock + cLen <= end) k++
        else break
      }
      if (from < end) kept.push([from, end - from])
    }
    if (kept.length > 0) out.set(client, kept)
  }
  return out
}

/**
 * The part of `ranges` below the bounds (clients without a bound: nothing),
 * or with `below` false the part at or past them (clients without a bound: all).
 */
export const clipDeleteRanges = (ranges: DeleteRanges, bounds: ClockBounds, below: boolean): DeleteRanges => {
  const out: DeleteRanges = new Map()
  for (const [client, list] of ranges) {
    const bound = bounds.get(client) ?? 0
    const kept: Array<[number, number]> = []
    for (const [clock, len] of list) {
      const end = clock + len
      if (below) {
        if (clock >= bound) break
        kept.push([clock, Math.min(end, bound) - clock])
      } else if (end > bound) {
        const from = Math.max(clock, bound)
        kept.push([from, end - from])
      }
    }
    if (kept.length > 0) out.set(client, kept)
  }
  return out
}

/** Per client, the smaller of the two clocks (clients missing from either are left out: bound 0). */
export const minBounds = (a: ClockBounds, b: ClockBounds): ClockBounds => {
  const out: ClockBounds = new Map()
  for (const [client, clock] of a) {
    const m = Math.min(clock, b.get(client) ?? 0)
    if (m > 0) out.set(client, m)
  }
  return out
}

/**
 * Writes ranges exactly as Yjs writes a V1 delete set: client count, then per
 * client (highest id first) the id, the range count and (clock, length) pairs.
 */
export const writeDeleteRanges = (encoder: encoding.Encoder, ranges: DeleteRanges): void => {
  const clients = [...ranges.keys()].sort((a, b) => b - a)
  encoding.writeVarUint(encoder, clients.length)
  for (const client of clients) {
    const list = ranges.get(client) ?? []
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, list.length)
    for (const [clock, len] of list) {
      encoding.writeVarUint(encoder, clock)
      encoding.writeVarUint(encoder, len)
    }
  }
}

const encodeDeleteRanges = (ranges: DeleteRanges): Uint8Array => {
  const encoder = encoding.createEncoder()
  writeDeleteRanges(encoder, ranges)
  return encoding.toUint8Array(encoder)
}

/** A Yjs update with no structs and these deletes. */
export const deleteOnlyUpdate = (ranges: DeleteRanges): Uint8Array => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  writeDeleteRanges(encoder, ranges)
  return encoding.toUint8Array(encoder)
}

/** 128-bit digest (SHA-256, truncated) of the normalised ranges' canonical encoding. */
export const digestDeleteRanges = (ranges: DeleteRanges): Uint8Array =>
  sha256(encodeDeleteRanges(ranges)).slice(0, DS_DIGEST_BYTES)

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** A state vector as a map; throws ProtocolError ERR_PROTOCOL_MALFORMED on bytes that are not one. */
export const decodeBounds = (stateVector: Uint8Array): ClockBounds => {
  try {
    return Y.decodeStateVector(stateVector)
  } catch (cause) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'malformed state vector', { cause })
  }
}

/** Encodes bounds as a state vector (the same bytes Yjs writes for one). */
export const encodeBounds = (bounds: ClockBounds): Uint8Array => {
  const clients = [...bounds.entries()].sort((a, b) => b[0] - a[0])
  return frame([clients.length, ...clients.flat()])
}

/** True when a peer at `bounds` has every struct of `doc`. */
const holdsEveryStruct = (doc: Y.Doc, bounds: ClockBounds): boolean => {
  for (const [client, structs] of doc.store.clients) {
    const last = structs[structs.length - 1]
    if (last !== undefined && (bounds.get(client) ?? 0) < last.id.clock + last.length) return false
  }
  return true
}

/**
 * What a peer with state vector `stateVector` lacks of `doc`'s structs, with
 * only the deletes of those structs (clocks at or past the state vector) plus
 * `extraDeletes`; deletes of structs the peer already holds are left to the
 * digest exchange. Same structs as `Y.encodeStateAsUpdate(doc, stateVector)`.
 * Throws ProtocolError on a malformed state vector.
 */
export const encodeUpdateWithoutOldDeletes = (
  doc: Y.Doc,
  stateVector: Uint8Array,
  extraDeletes: DeleteRanges = new Map()
): Uint8Array => {
  const bounds = decodeBounds(stateVector)
  const cached = cachedRanges(doc)
  const all = cached.ranges
  const deletesFor = (): Uint8Array => encodeDeleteRanges(unionDeleteRanges([clipDeleteRanges(all, bounds, false), extraDeletes]))
  if (holdsEveryStruct(doc, bounds) && doc.store.pendingStructs === null && doc.store.pendingDs === null) {
    // The usual reconnect: the peer has all our structs, so no struct section to encode.
    const deletes = deletesFor()
    const out = new Uint8Array(1 + deletes.length)
    out.set(deletes, 1)
    return out
  }
  const full = Y.encodeStateAsUpdate(doc, stateVector)
  const tail = (cached.encoded ??= encodeDeleteRanges(all))
  // A V1 update is its structs, then the whole delete set as `tail` encodes it. Should Yjs ever
  // append something else (it merges pending structs into the update), send the full update.
  const head = full.length - tail.length
  if (head < 1 || !equalBytes(full.subarray(head), tail)) return full
  const deletes = deletesFor()
  const out = new Uint8Array(head + deletes.length)
  out.set(full.subarray(0, head))
  out.set(deletes, head)
  return out
}

/** How many ranges there are. */
export const countDeleteRanges = (ranges: DeleteRanges): number => {
  let n = 0
  for (const list of ranges.values()) n += list.length
  return n
}

/** How many clocks the ranges cover. */
export const countDeletedClocks = (ranges: DeleteRanges): number => {
  let n = 0
  for (const list of ranges.values()) for (const [, len] of list) n += len
  return n
}

/** The document's deletes below the bounds: their digest and how many clocks they cover. */
export const deleteSummaryBelow = (doc: Y.Doc, bounds: ClockBounds): { digest: Uint8Array; deletedClocks: number } => {
  if (!holdsEveryStruct(doc, bounds)) {
    const below = clipDeleteRanges(deleteRangesOf(doc), bounds, true)
    return { digest: digestDeleteRanges(below), deletedClocks: countDeletedClocks(below) }
  }
  // Bounds past every struct clip nothing: the whole set's figures, cached until a delete.
  const cached = cachedRanges(doc)
  cached.digest ??= digestDeleteRanges(cached.ranges)
  cached.clocks ??= countDeletedClocks(cached.ranges)
  return { digest: cached.digest, deletedClocks: cached.clocks }
}
