/**
 * No import cycle inside any package or app (issue #16): every relative import of every source file
 * (type-only ones too) is followed, and a cycle fails with its path. Imports between packages go
 * through their names and are acyclic by the workspace's dependency order.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const IMPORT = /(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sources(path)
    return /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) ? [path] : []
  })
}

function resolveImport(from: string, spec: string): string | null {
  const target = normalize(join(dirname(from), spec))
  for (const candidate of [target.replace(/\.js$/, '.ts'), target.replace(/\.js$/, '.tsx'), `${target}.ts`, join(target, 'index.ts')]) {
    if (existsSync(candidate)) return candidate
  }
  return null
}

/** Every cycle found by a depth-first walk, each as the list of files around it. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>()
  const cycles: string[][] = []
  const stack: string[] = []
  const visit = (file: string): void => {
    state.set(file, 'open')
    stack.push(file)
    for (const next of graph.get(file) ?? []) {
      const seen = state.get(next)
      if (seen === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next])
      else if (seen === undefined) visit(next)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of graph.keys()) if (!state.has(file)) visit(file)
  return cycles
}

describe('import cycles', () => {
  it('finds a cycle in a small graph (the check itself)', () => {
    expect(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c', 'a']])
    expect(findCycles(new Map([['a', ['b']], ['b', []], ['c', ['a', 'b']]]))).toEqual([])
  })

  it('no package or app has one', () => {
    const graph = new Map<string, string[]>()
    for (const group of ['packages', 'apps']) {
      for (const name of readdirSync(join(ROOT, group))) {
        const src = join(ROOT, group, name, 'src')
        if (!existsSync(src)) continue
        for (const file of sources(src)) {
          const text = readFileSync(file, 'utf8')
          graph.set(file, [...text.matchAll(IMPORT)].flatMap((m) => resolveImport(file, m[1] as string) ?? []))
        }
      }
    }
    expect(graph.size).toBeGreaterThan(100)
    expect(findCycles(graph).map((cycle) => cycle.map((f) => relative(ROOT, f)).join(' → '))).toEqual([])
  })
})
