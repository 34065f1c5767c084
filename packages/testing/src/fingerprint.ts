import * as Y from 'yjs'

/** What converged replicas must agree on: state vector, delete set and content. */
export interface DocFingerprint {
  stateVector: string
  /** A canonical snapshot (state vector + delete set, clients sorted, ranges merged), hex. */
  deleteSet: string
  content: Record<string, unknown>
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type RootTypeConstructor = new () => Y.AbstractType<any>

/** The root types' constructors as the docs that use them typed them (a relay's copy never types its roots). */
export type DocShapes = Map<string, RootTypeConstructor>

export function shapesOf(docs: Iterable<Y.Doc>): DocShapes {
  const shapes: DocShapes = new Map()
  for (const doc of docs) {
    for (const [name, type] of doc.share) {
      if (type.constructor !== Y.AbstractType && !shapes.has(name)) shapes.set(name, type.constructor as RootTypeConstructor)
    }
  }
  return shapes
}

/**
 * Every root type's JSON. Roots a replica never typed itself are read with
 * the constructor `shapes` gives (Yjs retypes an untyped root on `get`).
 */
export function docContent(doc: Y.Doc, shapes: DocShapes = shapesOf([doc])): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const names = new Set([...doc.share.keys(), ...shapes.keys()])
  for (const name of [...names].sort()) {
    const ctor = shapes.get(name)
    const type = ctor !== undefined ? doc.get(name, ctor) : doc.share.get(name)
    if (type === undefined) continue
    out[name] = canonical(type instanceof Y.Text ? type.toString() : type.toJSON())
  }
  return out
}

/**
 * Map keys sorted at every depth: a Y.Map's key order depends on arrival order, its meaning does not.
 * A subdocument (toJSON leaves the Y.Doc itself, a cyclic object) is its guid: its content is a document of its own.
 */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value instanceof Y.Doc) return { subdoc: value.guid }
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]))
  }
  return value
}

export function docFingerprint(doc: Y.Doc, shapes?: DocShapes): DocFingerprint {
  return {
    stateVector: Buffer.from(Y.encodeStateVector(doc)).toString('hex'),
    deleteSet: Buffer.from(Y.encodeSnapshot(Y.snapshot(doc))).toString('hex'),
    content: docContent(doc, shapes)
  }
}

/** A replica to compare: a name for the diff and the document. */
export interface Replica {
  name: string
  doc: Y.Doc
}

const clocksOf = (doc: Y.Doc): Map<number, number> => Y.decodeStateVector(Y.encodeStateVector(doc))

/** Delete ranges per client as `client:clock+len` strings, for a readable set difference. */
function deleteRanges(doc: Y.Doc): Set<string> {
  const ranges = new Set<string>()
  const snap = Y.snapshot(doc)
  for (const [client, items] of snap.ds.clients) {
    for (const item of items) ranges.add(`${client}:${item.clock}+${item.len}`)
  }
  return ranges
}

const show = (value: unknown): string => {
  const s = JSON.stringify(value)
  return s === undefined ? 'undefined' : s.length > 200 ? `${s.slice(0, 200)}…` : s
}

/**
 * Lines describing how `b` differs from `a`: updates (client id and clock
 * range) one holds and the other lacks, deletions one has applied and the
 * other has not, and root types whose content differs. Empty when equal.
 */
export function diffReplicas(a: Replica, b: Replica, shapes: DocShapes = shapesOf([a.doc, b.doc])): string[] {
  const lines: string[] = []
  const sa = clocksOf(a.doc)
  const sb = clocksOf(b.doc)
  for (const client of [...new Set([...sa.keys(), ...sb.keys()])].sort((x, y) => x - y)) {
    const ca = sa.get(client) ?? 0
    const cb = sb.get(client) ?? 0
    if (ca > cb) lines.push(`${b.name} misses updates of client ${client}, clocks ${cb}..${ca - 1} (${a.name} has them)`)
    else if (cb > ca) lines.push(`${a.name} misses updates of client ${client}, clocks ${ca}..${cb - 1} (${b.name} has them)`)
  }
  const da = deleteRanges(a.doc)
  const db = deleteRanges(b.doc)
  const onlyA = [...da].filter((r) => !db.has(r))
  const onlyB = [...db].filter((r) => !da.has(r))
  if (onlyA.length > 0 || onlyB.length > 0) {
    lines.push(`delete sets differ: only ${a.name} ${show(onlyA.slice(0, 10))}, only ${b.name} ${show(onlyB.slice(0, 10))}`)
  }
  const ca = docContent(a.doc, shapes)
  const cb = docContent(b.doc, shapes)
  for (const key of [...new Set([...Object.keys(ca), ...Object.keys(cb)])].sort()) {
    const va = show(ca[key])
    const vb = show(cb[key])
    if (va !== vb) lines.push(`'${key}' differs: ${a.name} ${va} vs ${b.name} ${vb}`)
  }
  return lines
}

/** Does `doc` hold everything `update` wrote and deleted? */
export function docContainsUpdate(doc: Y.Doc, update: Uint8Array): boolean {
  return Y.snapshotContainsUpdate(Y.snapshot(doc), update)
}
