/**
 * Restoring a version as one forward transaction on the live document: each
 * root is made equal to the version's by the smallest edits found cheaply
 * (common prefix and suffix, then the middle), never by replacing the
 * document. Items other clients insert concurrently keep their place among
 * the items the restore leaves alone, so after every client has both the
 * restore and the concurrent edits, all hold the version's content plus
 * those edits.
 *
 * - Y.Text / Y.XmlText: the middle range is deleted and the version's middle
 *   inserted with its formatting; formatting that differs elsewhere is fixed
 *   with `format`.
 * - Y.XmlFragment / Y.XmlElement: attributes are set and removed; children
 *   equal on both sides (same XML) are kept; in the middle, nodes of the same
 *   kind and name pair up in order and are restored recursively, the rest
 *   deleted and inserted as copies.
 * - Y.Map: keys missing from the version are deleted, different values set
 *   (nested types of the same kind are restored recursively).
 * - Y.Array: entries are compared by value; a middle of the same length is
 *   restored entry by entry (nested types recursively), otherwise replaced.
 */
import * as Y from 'yjs'
import { sharedKind, typedRoot, type RootHints } from './root-kinds.js'
import { copyValue, typeName, valueKey } from './values.js'

export interface RestoreOptions {
  /** Root kinds known to the app (skips inference, see root-kinds.ts). */
  hints?: RootHints
}

/** Makes `live`'s content equal to `version`'s in one transaction with `origin`. Reads `version` only (it may define its roots' types). */
export function restoreVersion(live: Y.Doc, version: Y.Doc, origin?: unknown, options?: RestoreOptions): void {
  const names = new Set([...live.share.keys(), ...version.share.keys()])
  live.transact(() => {
    for (const name of names) {
      const kind = sharedKind(live, version, name, options?.hints)
      if (kind === 'empty') continue
      restoreType(typedRoot(live, name, kind), typedRoot(version, name, kind))
    }
  }, origin)
}

type AnyType = object

/** Restores `target` from `source` of the same type name. */
function restoreType(target: AnyType, source: AnyType): void {
  if (target instanceof Y.Text && source instanceof Y.Text) restoreText(target, source)
  else if (target instanceof Y.XmlFragment && source instanceof Y.XmlFragment) restoreXml(target, source)
  else if (target instanceof Y.Map && source instanceof Y.Map) restoreMap(target as Y.Map<unknown>, source as Y.Map<unknown>)
  else if (target instanceof Y.Array && source instanceof Y.Array) restoreArray(target as Y.Array<unknown>, source as Y.Array<unknown>)
}

const sameType = (a: unknown, b: unknown): boolean =>
  a instanceof Y.AbstractType && b instanceof Y.AbstractType && typeName(a) === typeName(b) && typeName(a) !== 'other' &&
  (!(a instanceof Y.XmlElement) || a.nodeName === (b as Y.XmlElement).nodeName)

// --- Text -------------------------------------------------------------------

interface Run {
  start: number
  end: number
  /** JSON of the run's formatting, for comparison. */
  attrs: string
  op: { insert: unknown; attributes?: Record<string, unknown> }
}

/** A text as one string (an embed is U+FFFC, told apart by `embeds`) and its runs of formatting. */
interface Flat {
  plain: string
  embeds: Map<number, string>
  runs: Run[]
}

function flatten(text: Y.Text): Flat {
  const delta = text.toDelta() as { insert: unknown; attributes?: Record<string, unknown> }[]
  const parts: string[] = []
  const embeds = new Map<number, string>()
  const runs: Run[] = []
  let at = 0
  for (const op of delta) {
    const len = typeof op.insert === 'string' ? op.insert.length : 1
    if (typeof op.insert === 'string') parts.push(op.insert)
    else {
      parts.push('\uFFFC')
      embeds.set(at, valueKey(op.insert))
    }
    runs.push({ start: at, end: at + len, attrs: JSON.stringify(op.attributes ?? {}), op })
    at += len
  }
  return { plain: parts.join(''), embeds, runs }
}

const sameUnit = (t: Flat, ti: number, s: Flat, si: number): boolean =>
  t.plain.charCodeAt(ti) === s.plain.charCodeAt(si) && t.embeds.get(ti) === s.embeds.get(si)

function restoreText(target: Y.Text, source: Y.Text): void {
  const t = flatten(target)
  const s = flatten(source)
  const tLen = t.plain.length
  const sLen = s.plain.length
  let p = 0
  while (p < tLen && p < sLen && sameUnit(t, p, s, p)) p++
  let q = 0
  while (q < tLen - p && q < sLen - p && sameUnit(t, tLen - 1 - q, s, sLen - 1 - q)) q++
  // Formatting of the kept ranges first (formatting does not move indices), then the middle.
  fixFormatting(target, t, s, 0, 0, p)
  fixFormatting(target, t, s, tLen - q, sLen - q, q)
  if (tLen - q - p > 0) target.delete(p, tLen - q - p)
  let pos = p
  for (const run of s.runs) {
    const from = Math.max(run.start, p)
    const to = Math.min(run.end, sLen - q)
    if (from >= to) continue
    // Explicit attributes (even none): the inserted text must not inherit its neighbour's formatting.
    const attrs = { ...(run.op.attributes ?? {}) }
    if (typeof run.op.insert === 'string') target.insert(pos, run.op.insert.slice(from - run.start, to - run.start), attrs)
    else target.insertEmbed(pos, copyValue(run.op.insert) as object, attrs)
    pos += to - from
  }
}

/** The run of `runs` holding index `i` (runs are sorted and contiguous). */
function runAt(runs: readonly Run[], i: number): number {
  let lo = 0
  let hi = runs.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1
    if ((runs[mid] as Run).start <= i) lo = mid
    else hi = mid - 1
  }
  return lo
}

/** Makes the formatting of `len` units at target index `ti` equal to the source's at `si`, run by run. */
function fixFormatting(target: Y.Text, t: Flat, s: Flat, ti: number, si: number, len: number): void {
  if (len <= 0) return
  let a = runAt(t.runs, ti)
  let b = runAt(s.runs, si)
  let i = 0
  // Bounded: each step ends a run of one side.
  while (i < len) {
    const ta = t.runs[a] as Run
    const sb = s.runs[b] as Run
    const step = Math.min(ta.end - (ti + i), sb.end - (si + i), len - i)
    if (ta.attrs !== sb.attrs) {
      const want = sb.op.attributes ?? {}
      const change: Record<string, unknown> = { ...want }
      for (const key of Object.keys(ta.op.attributes ?? {})) if (!(key in want)) change[key] = null
      target.format(ti + i, step, change)
    }
    i += step
    if (ti + i >= ta.end) a++
    if (si + i >= sb.end) b++
  }
}

// --- XML ----------------------------------------------------------------------

function restoreXml(target: Y.XmlFragment, source: Y.XmlFragment): void {
  if (target instanceof Y.XmlElement && source instanceof Y.XmlElement) {
    const have = target.getAttributes() as Record<string, unknown>
    const want = source.getAttributes() as Record<string, unknown>
    for (const key of Object.keys(have)) if (!(key in want)) target.removeAttribute(key)
    for (const [key, value] of Object.entries(want)) {
      if (valueKey(have[key]) !== valueKey(value)) target.setAttribute(key, value as string)
    }
  }
  restoreList(target, target.toArray(), source.toArray(), (values) => values.map((v) => copyValue(v) as Y.XmlElement | Y.XmlText))
}

// --- Map and Array --------------------------------------------------------------

function restoreMap(target: Y.Map<unknown>, source: Y.Map<unknown>): void {
  for (const key of [...target.keys()]) if (!source.has(key)) target.delete(key)
  for (const [key, want] of source.entries()) {
    const have = target.get(key)
    if (sameType(have, want)) restoreType(have as AnyType, want as AnyType)
    else if (!target.has(key) || valueKey(have) !== valueKey(want)) target.set(key, copyValue(want))
  }
}

function restoreArray(target: Y.Array<unknown>, source: Y.Array<unknown>): void {
  restoreList(target, target.toArray(), source.toArray(), (values) => values.map(copyValue))
}

interface ListTarget {
  delete(index: number, length: number): void
  insert(index: number, content: never[]): void
}

/**
 * The list part of a restore: equal prefix and suffix kept; in the middle,
 * same-kind entries pair up in order and are restored in place, and what
 * does not pair is deleted and inserted as copies.
 */
function restoreList(target: ListTarget, have: unknown[], want: unknown[], copies: (values: unknown[]) => unknown[]): void {
  const hk = have.map(valueKey)
  const wk = want.map(valueKey)
  let p = 0
  while (p < hk.length && p < wk.length && hk[p] === wk[p]) p++
  let q = 0
  while (q < hk.length - p && q < wk.length - p && hk[hk.length - 1 - q] === wk[wk.length - 1 - q]) q++
  const hMid = have.slice(p, have.length - q)
  const wMid = want.slice(p, want.length - q)
  let paired = 0
  while (paired < hMid.length && paired < wMid.length && sameType(hMid[paired], wMid[paired])) {
    restoreType(hMid[paired] as AnyType, wMid[paired] as AnyType)
    paired++
  }
  const at = p + paired
  if (hMid.length - paired > 0) target.delete(at, hMid.length - paired)
  const rest = wMid.slice(paired)
  if (rest.length > 0) target.insert(at, copies(rest) as never[])
}
