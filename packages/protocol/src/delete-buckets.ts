/**
 * The second round of the delete-set digest exchange (PROTOCOL.md,
 * "Delete-set digest"): when the whole-set digests differ and the relay has
 * many deletes below the bounds, it does not send them all. It splits each
 * client's clocks below its bound into buckets `widthClocks` wide and sends
 * an 8-byte hash per bucket; the client names the buckets that differ, the
 * relay answers with its deletes in them, and the client sends what it holds
 * there beyond them (an ordinary update). Deletes that are close in clock
 * order — a paragraph typed in one go and deleted — cost a bucket or two, not
 * the document's delete set; deletes scattered over the whole clock space
 * cost about what the plain exchange does, plus the hashes.
 */
import * as encoding from 'lib0/encoding'
import { digest as sha256 } from 'lib0/hash/sha256'
import type * as Y from 'yjs'
import {
  clipDeleteRanges,
  countDeleteRanges,
  decodeBounds,
  deleteOnlyUpdate,
  deleteRangesOf,
  deleteSummaryBelow,
  digestDeleteRanges,
  equalBytes,
  subtractDeleteRanges,
  type ClockBounds,
  type DeleteRanges
} from './delete-ranges.js'
import { DS_BUCKET_HASH_BYTES, MAX_DS_BUCKETS, type DsDigestMessage, type DsReplyFields } from './ds-digest.js'
import { ProtocolError } from './errors.js'

/** With at most this many delete ranges below the bounds (under 1 KB), the relay sends them outright: buckets would save little. */
export const DS_DIRECT_RANGES = 256
/** The relay aims at this many of its delete ranges per bucket: 8 bytes of hash for roughly 80 bytes of ranges. */
export const DS_RANGES_PER_BUCKET = 32
/** Bucket count bounds: few enough that the hashes stay near 1 KB, enough to narrow a change down. */
export const DS_MIN_BUCKETS = 16
export const DS_MAX_BUCKETS = 128

interface Bucket { client: number; from: number; to: number }

/** The buckets for `bounds` split `widthClocks` wide (clients by descending id), or null past MAX_DS_BUCKETS. */
const bucketsOf = (bounds: ClockBounds, widthClocks: number): Bucket[] | null => {
  const clients = [...bounds.entries()].filter(([, b]) => b > 0).sort((a, b) => b[0] - a[0])
  let total = 0
  for (const [, bound] of clients) total += Math.ceil(bound / widthClocks)
  if (total > MAX_DS_BUCKETS) return null
  const out: Bucket[] = []
  for (const [client, bound] of clients) {
    for (let from = 0; from < bound; from += widthClocks) out.push({ client, from, to: Math.min(from + widthClocks, bound) })
  }
  return out
}

/** Per bucket, the parts of `ranges` inside it. */
const piecesPerBucket = (ranges: DeleteRanges, buckets: readonly Bucket[]): Array<Array<[number, number]>> => {
  const out: Array<Array<[number, number]>> = []
  let client = Number.NaN
  let list: ReadonlyArray<[number, number]> = []
  let i = 0
  for (const b of buckets) {
    if (b.client !== client) {
      client = b.client
      list = ranges.get(client) ?? []
      i = 0
    }
    // Ranges ending at or before this bucket are behind us for good (buckets ascend per client).
    while (i < list.length && (list[i] as [number, number])[0] + (list[i] as [number, number])[1] <= b.from) i++
    const pieces: Array<[number, number]> = []
    for (let j = i; j < list.length; j++) {
      const [clock, len] = list[j] as [number, number]
      if (clock >= b.to) break
      const from = Math.max(clock, b.from)
      pieces.push([from, Math.min(clock + len, b.to) - from])
    }
    out.push(pieces)
  }
  return out
}

const bucketHashes = (ranges: DeleteRanges, buckets: readonly Bucket[]): Uint8Array => {
  const out = new Uint8Array(buckets.length * DS_BUCKET_HASH_BYTES)
  piecesPerBucket(ranges, buckets).forEach((pieces, k) => {
    const b = buckets[k] as Bucket
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, b.client)
    encoding.writeVarUint(encoder, b.from)
    encoding.writeVarUint(encoder, pieces.length)
    for (const [clock, len] of pieces) {
      encoding.writeVarUint(encoder, clock)
      encoding.writeVarUint(encoder, len)
    }
    out.set(sha256(encoding.toUint8Array(encoder)).subarray(0, DS_BUCKET_HASH_BYTES), k * DS_BUCKET_HASH_BYTES)
  })
  return out
}

const inBuckets = (ranges: DeleteRanges, buckets: readonly Bucket[], indices: readonly number[]): DeleteRanges => {
  const chosen = indices.map((k) => buckets[k] as Bucket)
  const out: DeleteRanges = new Map()
  piecesPerBucket(ranges, chosen).forEach((pieces, k) => {
    if (pieces.length === 0) return
    const client = (chosen[k] as Bucket).client
    const into = out.get(client)
    // Buckets ascend and do not overlap, so appending keeps each list sorted; merge runs split at a boundary.
    if (into === undefined) {
      out.set(client, pieces)
      return
    }
    for (const piece of pieces) {
      const last = into[into.length - 1]
      if (last !== undefined && last[0] + last[1] === piece[0]) last[1] += piece[1]
      else into.push(piece)
    }
  })
  return out
}

/** A guess at exactly the deletes a client lacks below the bounds (see the relay's delete log). */
export interface DeleteGuess { ranges: DeleteRanges; clocks: number }

/**
 * The relay's answer to a `ds-digest`: a match; exactly the deletes the
 * client lacks, when one of `guesses` makes the digests match (kind
 * `recent`); its deletes below the bounds (when few, or when the bounds would
 * need too many buckets); or bucket hashes. Throws ProtocolError on
 * malformed bounds.
 */
export const answerDeleteDigest = (
  doc: Y.Doc,
  message: Pick<DsDigestMessage, 'bounds' | 'digest' | 'deletedClocks'>,
  guesses: (bounds: ClockBounds) => Iterable<DeleteGuess> = () => []
): DsReplyFields => {
  const decoded = decodeBounds(message.bounds)
  const mine = deleteSummaryBelow(doc, decoded)
  if (equalBytes(mine.digest, message.digest)) return { kind: 'match' }
  const below = clipDeleteRanges(deleteRangesOf(doc), decoded, true)
  for (const guess of guesses(decoded)) {
    // The counts first (free), the digest only for a guess that fits them.
    if (mine.deletedClocks - guess.clocks !== message.deletedClocks) continue
    if (equalBytes(digestDeleteRanges(subtractDeleteRanges(below, guess.ranges)), message.digest)) {
      return { kind: 'recent', update: deleteOnlyUpdate(guess.ranges) }
    }
  }
  const ranges = countDeleteRanges(below)
  let clocks = 0
  for (const b of decoded.values()) clocks += b
  const target = Math.min(DS_MAX_BUCKETS, Math.max(DS_MIN_BUCKETS, Math.ceil(ranges / DS_RANGES_PER_BUCKET)))
  const widthClocks = Math.max(1, Math.ceil(clocks / target))
  const buckets = ranges <= DS_DIRECT_RANGES ? null : bucketsOf(decoded, widthClocks)
  if (buckets === null) return { kind: 'deletes', update: deleteOnlyUpdate(below) }
  return { kind: 'buckets', widthClocks, hashes: bucketHashes(below, buckets) }
}

/**
 * The client's side of a bucket reply: which buckets differ from its own
 * deletes, and its deletes in them. Throws ProtocolError when the relay's
 * hashes do not fit the bounds and width.
 */
export const compareDeleteBuckets = (
  doc: Y.Doc,
  bounds: ClockBounds,
  widthClocks: number,
  theirs: Uint8Array
): { buckets: number[]; mine: DeleteRanges } => {
  const buckets = bucketsOf(bounds, widthClocks)
  if (buckets === null || theirs.length !== buckets.length * DS_BUCKET_HASH_BYTES) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `bucket hashes (${theirs.length} bytes) do not fit the bounds at width ${widthClocks}`)
  }
  const own = clipDeleteRanges(deleteRangesOf(doc), bounds, true)
  const ours = bucketHashes(own, buckets)
  const differ: number[] = []
  for (let k = 0; k < buckets.length; k++) {
    const at = k * DS_BUCKET_HASH_BYTES
    if (!equalBytes(ours.subarray(at, at + DS_BUCKET_HASH_BYTES), theirs.subarray(at, at + DS_BUCKET_HASH_BYTES))) differ.push(k)
  }
  return { buckets: differ, mine: inBuckets(own, buckets, differ) }
}

/**
 * The relay's answer to a `ds-ranges`: its deletes in the named buckets.
 * Throws ProtocolError on malformed bounds or a bucket past the last.
 */
export const answerDeleteRanges = (doc: Y.Doc, bounds: Uint8Array, widthClocks: number, indices: readonly number[]): DsReplyFields => {
  const decoded = decodeBounds(bounds)
  const buckets = bucketsOf(decoded, widthClocks)
  if (buckets === null) throw new ProtocolError('ERR_PROTOCOL_OVERSIZED', `over ${MAX_DS_BUCKETS} buckets at width ${widthClocks}`)
  const last = indices[indices.length - 1]
  if (last !== undefined && last >= buckets.length) throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `bucket ${last} of ${buckets.length}`)
  const mine = inBuckets(clipDeleteRanges(deleteRangesOf(doc), decoded, true), buckets, indices)
  return mine.size === 0 ? { kind: 'match' } : { kind: 'deletes', update: deleteOnlyUpdate(mine) }
}
