/**
 * Checks on a Yjs update made before it is applied, wherever it comes from
 * (a client, a mesh link, the region bus, storage on load): Yjs recurses over
 * nested types (deleting or collecting a type walks its children), so an
 * update nesting types thousands deep overflows the call stack inside a
 * transaction's cleanup and wedges the document (see yjs-internals.ts,
 * isWedged); and a delete set whose ranges cut live items into pieces makes the
 * document grow with every piece and costs work per piece. Both are refused
 * before anything is applied.
 *
 * Everything here is bounded by the size of the update (itself bounded by the
 * frame limit) times a logarithm of the document's size.
 */
import * as Y from 'yjs'
import { RelayError } from './errors.js'
import { structsOf } from './yjs-internals.js'

export interface UpdateLimits {
  /** Deepest nesting of shared types (a Y.Map in a Y.Map… counts one per level) a document may reach. */
  maxNestingDepth: number
  /** Most items one update's delete set may split (each split is a new item: memory and work). */
  maxDeleteSplits: number
}

export const DEFAULT_UPDATE_LIMITS: UpdateLimits = {
  // Far above real documents (rich-text editors nest tens deep), far below the ~1,500
  // levels at which Yjs' recursive cleanup overflows a default Node stack.
  maxNestingDepth: 256,
  // About 50 ms of Yjs work at most; an honest edit splits at most two items per deleted range.
  maxDeleteSplits: 10_000
}

/**
 * Upper bound of the encoded bytes one split adds to a document: an item
 * header with its origin and right origin (two ids: client and clock varints)
 * and a content length.
 */
export const SPLIT_COST_BYTES = 24

export interface UpdateInspection {
  /** Deepest nesting the update's items will have once applied (0: no items). */
  depth: number
  /** Items the delete set will split (in the document and in the update itself). */
  splits: number
  /** Upper bound of what the update adds to the document's encoded size: its length plus the splits. */
  growthBytes: number
}

type Struct = Y.Item | Y.GC | Y.Skip

/**
 * Decodes `update` against `doc` and checks it against `limits`. Throws a
 * RelayError: ERR_UPDATE_INVALID (Yjs cannot decode it), ERR_UPDATE_TOO_DEEP,
 * ERR_UPDATE_TOO_COSTLY. Changes nothing.
 */
export function inspectUpdate(doc: Y.Doc, update: Uint8Array, limits: UpdateLimits): UpdateInspection {
  let decoded: { structs: Struct[]; ds: { clients: Map<number, { clock: number; len: number }[]> } }
  try {
    decoded = Y.decodeUpdate(update) as typeof decoded
  } catch (cause) {
    throw new RelayError('ERR_UPDATE_INVALID', undefined, { cause })
  }
  const backwards = referenceAhead(decoded.structs)
  if (backwards !== null) throw new RelayError('ERR_UPDATE_INVALID', backwards)
  const byClient = groupByClient(decoded.structs)
  const depth = new DepthResolver(doc, byClient).maxDepth(decoded.structs, limits.maxNestingDepth)
  if (depth > limits.maxNestingDepth) {
    throw new RelayError('ERR_UPDATE_TOO_DEEP', `types nested ${depth} deep; the limit is ${limits.maxNestingDepth}`)
  }
  const splits = countSplits(doc, byClient, decoded.ds.clients, limits.maxDeleteSplits)
  if (splits > limits.maxDeleteSplits) {
    throw new RelayError('ERR_UPDATE_TOO_COSTLY', `the delete set splits more than ${limits.maxDeleteSplits} items`)
  }
  return { depth, splits, growthBytes: update.length + splits * SPLIT_COST_BYTES }
}

/**
 * Yjs checks a struct's references to other clients against the document's
 * state (missing: the struct waits), but trusts references to its own client:
 * one to a clock at or after its own makes integration throw half-way, which
 * breaks the document. Such an update is malformed; this finds it first.
 */
function referenceAhead(structs: readonly Struct[]): string | null {
  for (const s of structs) {
    if (!(s instanceof Y.Item)) continue
    for (const ref of [s.origin, s.rightOrigin, s.parent instanceof Y.ID ? s.parent : null]) {
      if (ref !== null && ref.client === s.id.client && ref.clock >= s.id.clock) {
        return `struct ${s.id.client}:${s.id.clock} refers to ${ref.client}:${ref.clock}, not an earlier change of its own client`
      }
    }
  }
  return null
}

function groupByClient(structs: readonly Struct[]): Map<number, Struct[]> {
  const map = new Map<number, Struct[]>()
  for (const s of structs) {
    let list = map.get(s.id.client)
    if (list === undefined) map.set(s.id.client, (list = []))
    list.push(s)
  }
  for (const list of map.values()) list.sort((a, b) => a.id.clock - b.id.clock)
  return map
}

/** The struct of `list` (sorted by clock, one client) holding `clock`, or undefined. */
function findStruct<T extends { id: { clock: number }; length: number }>(list: readonly T[] | undefined, clock: number): T | undefined {
  if (list === undefined) return undefined
  let lo = 0
  let hi = list.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const s = list[mid] as T
    if (clock < s.id.clock) hi = mid - 1
    else if (clock >= s.id.clock + s.length) lo = mid + 1
    else return s
  }
  return undefined
}

/**
 * How deep each item of an update will sit: 1 for a child of a root type,
 * one more than its parent type's item for a nested one; an item placed by
 * an origin (its parent not encoded) sits where that origin sits.
 */
class DepthResolver {
  private readonly memo = new Map<Y.Item, number>()

  constructor(private readonly doc: Y.Doc, private readonly byClient: Map<number, Struct[]>) {}

  maxDepth(structs: readonly Struct[], limit: number): number {
    let max = 0
    for (const s of structs) {
      if (!(s instanceof Y.Item)) continue
      const d = this.depthOf(s)
      if (d > max) max = d
      if (max > limit) return max
    }
    return max
  }

  /** Iterative (an attacker's chain may be as long as the update): each item is resolved once. */
  private depthOf(start: Y.Item): number {
    const path: { item: Y.Item; inc: number }[] = []
    const onPath = new Set<Y.Item>()
    let item = start
    let base = 0
    for (;;) {
      const known = this.memo.get(item)
      if (known !== undefined) {
        base = known
        break
      }
      if (onPath.has(item)) break // a cycle only a malformed update has: Yjs leaves it pending
      onPath.add(item)
      const parent = item.parent as unknown
      if (typeof parent === 'string') {
        path.push({ item, inc: 1 })
        break
      }
      const parentId = parent instanceof Y.ID ? parent : null
      const ref = parentId ?? item.origin ?? item.rightOrigin
      path.push({ item, inc: parentId !== null ? 1 : 0 })
      if (ref === null) break
      const inUpdate = findStruct(this.byClient.get(ref.client), ref.clock)
      if (inUpdate instanceof Y.Item) {
        // Its parent (children sit one deeper: `inc`) or a sibling (same depth).
        item = inUpdate
        continue
      }
      if (inUpdate !== undefined) break // GC or skip: nothing to nest in
      base = this.docDepth(ref)
      break
    }
    // Unwind: each entry is its target's depth plus its own step.
    let value = base
    for (let i = path.length - 1; i >= 0; i--) {
      const entry = path[i] as { item: Y.Item; inc: number }
      value += entry.inc
      this.memo.set(entry.item, value)
    }
    return value
  }

  /** Depth of the document's item holding `id` (0 if it has none: missing, or collected). */
  private docDepth(id: Y.ID): number {
    const s = findStruct(structsOf(this.doc, id.client), id.clock) as unknown
    if (!(s instanceof Y.Item)) return 0
    let depth = 1
    let type = s.parent as { _item: Y.Item | null } | null
    // Bounded by the document's depth, which these checks keep under the limit.
    while (type !== null && type._item !== null && depth < 1_000_000) {
      depth++
      type = type._item.parent as { _item: Y.Item | null } | null
    }
    return depth
  }
}

/**
 * Items the delete set would split: a range boundary strictly inside a live
 * item (of the document, or of the update, whose structs are applied first)
 * cuts it in two. Stops counting past `stopAbove`.
 */
function countSplits(
  doc: Y.Doc,
  byClient: Map<number, Struct[]>,
  ds: Map<number, { clock: number; len: number }[]>,
  stopAbove: number
): number {
  let splits = 0
  for (const [client, ranges] of ds) {
    const docStructs = structsOf(doc, client)
    const own = byClient.get(client)
    for (const range of ranges) {
      if (range.len <= 0) continue
      for (const boundary of [range.clock, range.clock + range.len]) {
        if (cutsLive(findStruct(docStructs, boundary), boundary) || cutsLive(findStruct(own, boundary), boundary)) splits++
      }
      if (splits > stopAbove) return splits
    }
  }
  return splits
}

/** A decoded item with deleted content is integrated as deleted: Yjs does not split it. */
const cutsLive = (s: unknown, boundary: number): boolean =>
  s instanceof Y.Item && !s.deleted && !(s.content instanceof Y.ContentDeleted) && s.id.clock < boundary
