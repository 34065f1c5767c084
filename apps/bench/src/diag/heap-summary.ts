/**
 * Summarizes a V8 heap snapshot (`v8.writeHeapSnapshot`) by constructor name:
 * how many objects, their own bytes, and the bytes they retain (the
 * dominator tree, ignoring weak edges, as DevTools does), and diffs two
 * summaries. A diagnostic for memory-per-doc.ts, not part of any benchmark.
 */
import { readFileSync } from 'node:fs'

export interface HeapRow {
  count: number
  /** Bytes of the objects themselves. */
  selfBytes: number
  /** Bytes kept alive only through objects of this kind (each counted once: nested ones of the same kind are not added again). */
  retainedBytes: number
}

export type HeapSummary = Map<string, HeapRow>

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } }
  nodes: number[]
  edges: number[]
  strings: string[]
}

/** The group a node counts in: its constructor for objects, its function name for closures, its kind otherwise. */
function keyOf(type: string, name: string): string {
  switch (type) {
    case 'object':
      return name
    case 'closure':
      return `(closure) ${name === '' ? '(anonymous)' : name}`
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)'
    case 'array':
    case 'hidden':
    case 'native':
      return `(${type}) ${name.length > 60 ? name.slice(0, 60) : name}`
    default:
      return `(${type})`
  }
}

/** A parsed snapshot with its dominator tree, for summaries and ad-hoc digging. */
export interface HeapGraph {
  readonly s: Snapshot
  /** Node fields per node, edge fields per edge. */
  readonly nf: number
  readonly ef: number
  readonly keys: readonly string[]
  /** Group (index in `keys`) of every node. */
  readonly group: Int32Array
  /** Offset in `s.edges` of each node's first edge (and of the end, at `n`). */
  readonly firstEdge: Int32Array
  /** Reachable nodes in post-order, and each node's number in it (-1: unreachable). */
  readonly order: readonly number[]
  readonly po: Int32Array
  /** Immediate dominator of each reachable node, by post-order number. */
  readonly idom: Int32Array
  /** Retained bytes of each reachable node, by post-order number. */
  readonly retained: Float64Array
  selfBytes(node: number): number
  edgeName(e: number): string
  target(e: number): number
  strong(e: number): boolean
}

export function loadHeapGraph(file: string): HeapGraph {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const meta = s.snapshot.meta
  const nf = meta.node_fields.length
  const ef = meta.edge_fields.length
  const [typeF, nameF, selfF, edgeCountF] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f)) as [number, number, number, number]
  const [eTypeF, eToF] = ['type', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [number, number]
  const weak = meta.edge_types[0].indexOf('weak')
  const nodeTypes = meta.node_types[0]
  const { nodes, edges, strings } = s
  const n = nodes.length / nf

  // Group of every node, and each node's first edge.
  const keys: string[] = []
  const keyIndex = new Map<string, number>()
  const group = new Int32Array(n)
  const firstEdge = new Int32Array(n + 1)
  for (let i = 0, e = 0; i < n; i++) {
    firstEdge[i] = e
    e += nodes[i * nf + edgeCountF]! * ef
    const key = keyOf(nodeTypes[nodes[i * nf + typeF]!] ?? '?', strings[nodes[i * nf + nameF]!] ?? '')
    let k = keyIndex.get(key)
    if (k === undefined) {
      k = keys.length
      keys.push(key)
      keyIndex.set(key, k)
    }
    group[i] = k
    firstEdge[i + 1] = e
  }
  const strong = (e: number): boolean => edges[e + eTypeF] !== weak
  const target = (e: number): number => edges[e + eToF]! / nf

  // Post-order from the root (node 0), iteratively.
  const po = new Int32Array(n).fill(-1)
  const order: number[] = []
  const visited = new Uint8Array(n)
  const stack = new Int32Array(n)
  const cursor = new Int32Array(n)
  let top = 0
  stack[0] = 0
  cursor[0] = firstEdge[0]!
  visited[0] = 1
  while (top >= 0) {
    const v = stack[top]!
    let pushed = false
    while (cursor[v]! < firstEdge[v + 1]!) {
      const e = cursor[v]!
      cursor[v] = e + ef
      if (!strong(e)) continue
      const w = target(e)
      if (visited[w] === 1) continue
      visited[w] = 1
      cursor[w] = firstEdge[w]!
      stack[++top] = w
      pushed = true
      break
    }
    if (!pushed) {
      po[v] = order.length
      order.push(v)
      top--
    }
  }
  const r = order.length

  // Predecessors (by post-order number) of every reachable node.
  const predCount = new Int32Array(r + 1)
  for (let v = 0; v < n; v++) {
    if (po[v] === -1) continue
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += ef) if (strong(e)) predCount[po[target(e)]! + 1]!++
  }
  for (let i = 0; i < r; i++) predCount[i + 1]! += predCount[i]!
  const preds = new Int32Array(predCount[r]!)
  const fill = predCount.slice(0, r)
  for (let v = 0; v < n; v++) {
    if (po[v] === -1) continue
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += ef) if (strong(e)) preds[fill[po[target(e)]!]!++] = po[v]!
  }

  // Immediate dominators (Cooper, Harvey, Kennedy: "A Simple, Fast Dominance Algorithm").
  const idom = new Int32Array(r).fill(-1)
  const root = r - 1
  idom[root] = root
  for (let changed = true, rounds = 0; changed && rounds < 1000; rounds++) {
    changed = false
    for (let b = root - 1; b >= 0; b--) {
      let next = -1
      for (let i = predCount[b]!; i < predCount[b + 1]!; i++) {
        let p = preds[i]!
        if (idom[p] === -1) continue
        if (next === -1) {
          next = p
          continue
        }
        let q = next
        while (p !== q) {
          while (p < q) p = idom[p]!
          while (q < p) q = idom[q]!
        }
        next = p
      }
      if (next !== -1 && idom[b] !== next) {
        idom[b] = next
        changed = true
      }
    }
  }

  // Retained sizes: a dominator always comes later in post-order than what it dominates.
  const retained = new Float64Array(r)
  for (let b = 0; b < r; b++) retained[b] = nodes[order[b]! * nf + selfF]!
  for (let b = 0; b < root; b++) if (idom[b]! >= 0) retained[idom[b]!]! += retained[b]!

  const eNameF = meta.edge_fields.indexOf('name_or_index')
  const edgeTypes = meta.edge_types[0]
  return {
    s, nf, ef, keys, group, firstEdge, order, po, idom, retained,
    selfBytes: (node) => nodes[node * nf + selfF]!,
    edgeName: (e) => {
      const type = edgeTypes[edges[e + eTypeF]!]
      const v = edges[e + eNameF]!
      return type === 'element' || type === 'hidden' ? `[${v}]` : (strings[v] ?? '?')
    },
    target,
    strong
  }
}

export function summarizeHeapSnapshot(file: string): HeapSummary {
  return summarizeHeap(loadHeapGraph(file))
}

export function summarizeHeap(graph: HeapGraph): HeapSummary {
  const { keys, group, order, idom, retained } = graph
  const r = order.length
  const root = r - 1
  const rows: HeapRow[] = keys.map(() => ({ count: 0, selfBytes: 0, retainedBytes: 0 }))
  for (let b = 0; b < r; b++) {
    const row = rows[group[order[b]!]!]!
    row.count++
    row.selfBytes += graph.selfBytes(order[b]!)
  }
  // Retained per group: walk the dominator tree, adding a node only when no dominator of it is in its group.
  const childStart = new Int32Array(r + 1)
  for (let b = 0; b < root; b++) if (idom[b]! >= 0) childStart[idom[b]! + 1]!++
  for (let i = 0; i < r; i++) childStart[i + 1]! += childStart[i]!
  const children = new Int32Array(childStart[r]!)
  const at = childStart.slice(0, r)
  for (let b = 0; b < root; b++) if (idom[b]! >= 0) children[at[idom[b]!]!++] = b
  const active = new Int32Array(keys.length)
  const walk = new Int32Array(r)
  const next = new Int32Array(r)
  let depth = 0
  walk[0] = root
  next[0] = childStart[root]!
  active[group[order[root]!]!]!++
  while (depth >= 0) {
    const b = walk[depth]!
    if (next[depth]! < childStart[b + 1]!) {
      const c = children[next[depth]!++]!
      const g = group[order[c]!]!
      if (active[g] === 0) rows[g]!.retainedBytes += retained[c]!
      active[g]!++
      walk[++depth] = c
      next[depth] = childStart[c]!
    } else {
      active[group[order[b]!]!]!--
      depth--
    }
  }
  const summary: HeapSummary = new Map()
  rows.forEach((row, k) => {
    if (row.count > 0) summary.set(keys[k]!, row)
  })
  return summary
}

export interface HeapDiffRow extends HeapRow {
  key: string
}

/** `after − before` per group, divided by `per` (e.g. the number of documents). */
export function diffHeapSummaries(before: HeapSummary, after: HeapSummary, per = 1): HeapDiffRow[] {
  const keys = new Set([...before.keys(), ...after.keys()])
  return [...keys].map((key) => {
    const a = after.get(key)
    const b = before.get(key)
    return {
      key,
      count: ((a?.count ?? 0) - (b?.count ?? 0)) / per,
      selfBytes: ((a?.selfBytes ?? 0) - (b?.selfBytes ?? 0)) / per,
      retainedBytes: ((a?.retainedBytes ?? 0) - (b?.retainedBytes ?? 0)) / per
    }
  })
}

/** The rows with the largest `by`, as an aligned table. */
export function formatHeapRows(rows: HeapDiffRow[], by: 'selfBytes' | 'retainedBytes', limit = 30): string {
  const top = [...rows].sort((x, y) => y[by] - x[by]).slice(0, limit)
  const lines = top.map((row) => `${row.count.toFixed(2).padStart(9)} ${row.selfBytes.toFixed(0).padStart(8)} ${row.retainedBytes.toFixed(0).padStart(9)}  ${row.key}`)
  return [`${'count'.padStart(9)} ${'self B'.padStart(8)} ${'retained'.padStart(9)}  constructor`, ...lines].join('\n')
}
