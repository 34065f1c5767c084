/**
 * What changed between two states of a document, as data an app can render.
 * Exact when `older`'s state is contained in `newer`'s (two versions of one
 * line of history, or a version and now); for two states that each have
 * changes the other lacks (both sides of a partition), the changes only
 * `older` has are not shown.
 *
 * Lists (text, arrays, XML children) are walked in `newer`'s order, tombstones
 * included: an item `older`'s state vector does not cover is an insertion by
 * its Yjs client (`item.id.client`); an item alive in `older` and deleted in
 * `newer` is a deletion (its content read from `older`; Yjs does not record
 * who deletes, so `client` is the client that had inserted it). Maps: added,
 * removed and changed keys (the writer of the new value as `client`).
 */
import * as Y from 'yjs'
import { sharedKind, typedRoot, type RootHints } from './root-kinds.js'
import { toPlain, valueKey } from './values.js'

export type DiffOpKind = 'retain' | 'insert' | 'delete'

export interface TextDiffOp {
  readonly op: DiffOpKind
  /** Embeds count as one U+FFFC character. */
  readonly text: string
  /** Insert: the client that inserted it; delete: the client that had inserted what was deleted; retain: null. */
  readonly client: number | null
}

export interface ArrayDiffOp {
  readonly op: DiffOpKind
  readonly values: unknown[]
  readonly client: number | null
}

export type XmlDiffOp =
  | { readonly op: DiffOpKind; readonly node: 'text'; readonly text: string; readonly client: number | null }
  | { readonly op: 'insert' | 'delete'; readonly node: 'element'; readonly name: string; readonly xml: string; readonly client: number | null }
  /** A kept element whose children follow, up to the matching `exit`. */
  | { readonly op: 'enter'; readonly node: 'element'; readonly name: string }
  | { readonly op: 'exit'; readonly node: 'element'; readonly name: string }

export interface MapChange {
  readonly key: string
  readonly change: 'added' | 'removed' | 'changed'
  readonly before?: unknown
  readonly after?: unknown
  readonly client: number | null
}

export type RootDiff =
  | { readonly name: string; readonly kind: 'text'; readonly ops: TextDiffOp[] }
  | { readonly name: string; readonly kind: 'array'; readonly ops: ArrayDiffOp[] }
  | { readonly name: string; readonly kind: 'xml'; readonly ops: XmlDiffOp[] }
  | { readonly name: string; readonly kind: 'map'; readonly changes: MapChange[] }

export interface VersionDiff {
  readonly roots: RootDiff[]
  /** Whether anything was inserted, deleted or changed. */
  readonly changed: boolean
}

/** The changes from `older` to `newer` (both are read; untyped roots get their inferred type defined). */
export function diffVersions(older: Y.Doc, newer: Y.Doc, options?: { hints?: RootHints }): VersionDiff {
  const sv = Y.decodeStateVector(Y.encodeStateVector(older))
  const roots: RootDiff[] = []
  const names = [...new Set([...newer.share.keys(), ...older.share.keys()])].sort()
  for (const name of names) {
    const kind = sharedKind(newer, older, name, options?.hints)
    if (kind === 'empty') continue
    const o = typedRoot(older, name, kind)
    const n = typedRoot(newer, name, kind)
    const walker = new Walker(older, sv)
    switch (kind) {
      case 'text':
        roots.push({ name, kind, ops: walker.text(n) })
        break
      case 'array':
        roots.push({ name, kind, ops: walker.array(n) })
        break
      case 'xml':
        roots.push({ name, kind, ops: walker.xml(n) })
        break
      case 'map':
        roots.push({ name, kind, changes: mapChanges(o as Y.Map<unknown>, n as Y.Map<unknown>) })
        break
    }
  }
  const changed = roots.some((r) => r.kind === 'map' ? r.changes.length > 0 : r.ops.some((op) => op.op === 'insert' || op.op === 'delete'))
  return { roots, changed }
}

function mapChanges(older: Y.Map<unknown>, newer: Y.Map<unknown>): MapChange[] {
  const out: MapChange[] = []
  const writer = (key: string): number | null => (newer as unknown as { _map: Map<string, Y.Item> })._map.get(key)?.id.client ?? null
  for (const key of [...new Set([...older.keys(), ...newer.keys()])].sort()) {
    const had = older.has(key)
    const has = newer.has(key)
    if (had && !has) out.push({ key, change: 'removed', before: toPlain(older.get(key)), client: null })
    else if (!had && has) out.push({ key, change: 'added', after: toPlain(newer.get(key)), client: writer(key) })
    else if (valueKey(older.get(key)) !== valueKey(newer.get(key))) {
      out.push({ key, change: 'changed', before: toPlain(older.get(key)), after: toPlain(newer.get(key)), client: writer(key) })
    }
  }
  return out
}

type Struct = Y.Item | Y.GC

/** One piece of a list item: `[from, to)` of its units, and whether it is kept, new or gone. */
interface Piece {
  op: DiffOpKind
  /** The item to read the content from (newer's for retain/insert, older's for delete). */
  item: Y.Item
  from: number
  to: number
}

class Walker {
  constructor(private readonly older: Y.Doc, private readonly sv: Map<number, number>) {}

  /** The pieces of `newer`'s list, in order (tombstones included, for deletions). */
  private *pieces(type: object): Generator<Piece> {
    for (let item = (type as unknown as { _start: Y.Item | null })._start; item !== null; item = item.right) {
      // A tombstone decoded from an update holds ContentDeleted (not countable): it may still be a deletion.
      if (!item.deleted && !item.countable) continue
      const { client, clock } = item.id
      const covered = Math.max(0, Math.min(item.length, (this.sv.get(client) ?? 0) - clock))
      if (covered > 0) {
        for (const old of this.olderStructs(client, clock, clock + covered)) {
          const from = Math.max(clock, old.id.clock)
          const to = Math.min(clock + covered, old.id.clock + old.length)
          const aliveBefore = old instanceof Y.Item && !old.deleted && old.countable
          if (aliveBefore && !item.deleted) yield { op: 'retain', item, from: from - clock, to: to - clock }
          else if (aliveBefore) yield { op: 'delete', item: old, from: from - old.id.clock, to: to - old.id.clock }
          else if (!item.deleted) yield { op: 'insert', item, from: from - clock, to: to - clock }
        }
      }
      if (covered < item.length && !item.deleted) yield { op: 'insert', item, from: covered, to: item.length }
    }
  }

  /** `older`'s structs of `client` overlapping clocks [from, to). */
  private *olderStructs(client: number, from: number, to: number): Generator<Struct> {
    const structs = this.older.store.clients.get(client) as Struct[] | undefined
    if (structs === undefined) return
    // findIndexSS: binary search of the struct holding `from` (covered by the state vector, so present).
    for (let i = Y.findIndexSS(structs as never, from); i < structs.length; i++) {
      const s = structs[i] as Struct
      if (s.id.clock >= to) return
      yield s
    }
  }

  text(type: object): TextDiffOp[] {
    const ops: TextDiffOp[] = []
    for (const p of this.pieces(type)) {
      const c = p.item.content
      const text = c instanceof Y.ContentString ? c.str.slice(p.from, p.to) : '\uFFFC'.repeat(p.to - p.from)
      const client = p.op === 'retain' ? null : p.item.id.client
      const last = ops.at(-1)
      if (last !== undefined && last.op === p.op && last.client === client) ops[ops.length - 1] = { ...last, text: last.text + text }
      else ops.push({ op: p.op, text, client })
    }
    return ops
  }

  array(type: object): ArrayDiffOp[] {
    const ops: ArrayDiffOp[] = []
    for (const p of this.pieces(type)) {
      const values = p.item.content.getContent().slice(p.from, p.to).map(toPlain)
      const client = p.op === 'retain' ? null : p.item.id.client
      const last = ops.at(-1)
      if (last !== undefined && last.op === p.op && last.client === client) last.values.push(...values)
      else ops.push({ op: p.op, values, client })
    }
    return ops
  }

  xml(type: object): XmlDiffOp[] {
    const ops: XmlDiffOp[] = []
    for (const p of this.pieces(type)) {
      const node = p.item.content instanceof Y.ContentType ? p.item.content.type : null
      const client = p.op === 'retain' ? null : p.item.id.client
      if (node instanceof Y.XmlText) {
        if (p.op === 'retain') for (const t of this.text(node)) ops.push({ ...t, node: 'text' })
        else ops.push({ op: p.op, node: 'text', text: node.toString(), client })
      } else if (node instanceof Y.XmlElement) {
        if (p.op === 'retain') {
          ops.push({ op: 'enter', node: 'element', name: node.nodeName })
          ops.push(...this.xml(node))
          ops.push({ op: 'exit', node: 'element', name: node.nodeName })
        } else {
          ops.push({ op: p.op, node: 'element', name: node.nodeName, xml: node.toString(), client })
        }
      }
    }
    return ops
  }
}
