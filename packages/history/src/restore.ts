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

interface Units {
  keys: string[]
  attrs: string[]
  /** The delta op each unit came from, and its offset in it. */
  ops: { insert: unknown; attributes?: Record<string, unknown> }[]
  at: { op: number; offset: number }[]
}

function unitsOf(text: Y.Text): Units {
  const delta = text.toDelta() as { insert: unknown; attributes?: Record<string, unknown> }[]
  const u: Units = { keys: [], attrs: [], ops: delta, at: [] }
  delta.forEach((op, i) => {
    const attrs = JSON.stringify(op.attributes ?? {})
    if (typeof op.insert === 'string') {
      for (let k = 0; k < op.insert.length; k++) {
        u.keys.push(op.insert[k] as string)
        u.attrs.push(attrs)
        u.at.push({ op: i, offset: k })
      }
    } else {
      u.keys.push(`\u0000embed:${valueKey(op.insert)}`)
      u.attrs.push(attrs)
      u.at.push({ op: i, offset: 0 })
    }
  })
  return u
}

function restoreText(target: Y.Text, source: Y.Text): void {
  const t = unitsOf(target)
  const s = unitsOf(source)
  const tLen = t.keys.length
  const sLen = s.keys.length
  let p = 0
  while (p < tLen && p < sLen && t.keys[p] === s.keys[p]) p++
  let q = 0
  while (q < tLen - p && q < sLen - p && t.keys[tLen - 1 - q] === s.keys[sLen - 1 - q]) q++
  // Formatting of the kept ranges first (formatting does not move indices), then the middle.
  fixFormatting(target, t, s, 0, 0, p)
  fixFormatting(target, t, s, tLen - q, sLen - q, q)
  if (tLen - q - p > 0) target.delete(p, tLen - q - p)
  let pos = p
  for (let i = p; i < sLen - q;) {
    const { op: opIndex, offset } = s.at[i] as { op: number; offset: number }
    const op = s.ops[opIndex] as { insert: unknown; attributes?: Record<string, unknown> }
    // Explicit attributes (even none): the inserted text must not inherit its neighbour's formatting.
    const attrs = { ...(op.attributes ?? {}) }
    if (typeof op.insert === 'string') {
      const chunk = op.insert.slice(offset, offset + (sLen - q - i))
      target.insert(pos, chunk, attrs)
      pos += chunk.length
      i += chunk.length
    } else {
      target.insertEmbed(pos, copyValue(op.insert) as object, attrs)
      pos++
      i++
    }
  }
}

/** Makes the formatting of `len` units at target index `ti` equal to the source's at `si`. */
function fixFormatting(target: Y.Text, t: Units, s: Units, ti: number, si: number, len: number): void {
  let i = 0
  while (i < len) {
    if (t.attrs[ti + i] === s.attrs[si + i]) {
      i++
      continue
    }
    const from = i
    const tA = t.attrs[ti + i]
    const sA = s.attrs[si + i]
    while (i < len && t.attrs[ti + i] === tA && s.attrs[si + i] === sA) i++
    const want = JSON.parse(sA ?? '{}') as Record<string, unknown>
    const have = JSON.parse(tA ?? '{}') as Record<string, unknown>
    const change: Record<string, unknown> = { ...want }
    for (const key of Object.keys(have)) if (!(key in want)) change[key] = null
    target.format(ti + from, i - from, change)
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
