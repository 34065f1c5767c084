/**
 * Summarizes a sampling heap profile (HeapProfiler.stopSampling: a tree of
 * call frames with the sampled bytes allocated there) by function, and by
 * the first frame in this repository's code on the stack, so that
 * allocations inside libraries count against the code that asked for them.
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number }
  selfSize: number
  children: ProfileNode[]
}

const ours = (url: string): boolean => /\/(packages|apps)\/[^/]+\/dist\//.test(url) && !url.includes('/node_modules/')

function frameName(frame: ProfileNode['callFrame']): string {
  const file = frame.url.replace(/^.*\/(packages|apps|node_modules)\//, '').replace(/^file:\/\//, '')
  return `${frame.functionName === '' ? '(anonymous)' : frame.functionName} ${file}:${frame.lineNumber + 1}`
}

/** Bytes per document by allocating function and by the nearest frame of our own code. */
export function formatAllocationProfile(file: string, docs: number, limit: number): string {
  const root = (JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode }).head
  const byFunction = new Map<string, number>()
  const byOurs = new Map<string, number>()
  let total = 0
  // Iterative walk; each entry carries the nearest frame of ours above it.
  const stack: { node: ProfileNode; owner: string }[] = [{ node: root, owner: '(no code of ours on the stack)' }]
  while (stack.length > 0) {
    const { node, owner: above } = stack.pop() as { node: ProfileNode; owner: string }
    const name = frameName(node.callFrame)
    const owner = ours(node.callFrame.url) ? name : above
    if (node.selfSize > 0) {
      total += node.selfSize
      byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize)
      byOurs.set(owner, (byOurs.get(owner) ?? 0) + node.selfSize)
    }
    for (const child of node.children) stack.push({ node: child, owner })
  }
  const table = (rows: Map<string, number>): string =>
    [...rows].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([k, v]) => `${(v / docs).toFixed(0).padStart(8)}  ${k}`).join('\n')
  return `total ${(total / docs / 1024).toFixed(1)} KB per document\n${table(byFunction)}\n\nby the nearest frame of this repository's code:\n${table(byOurs)}`
}
