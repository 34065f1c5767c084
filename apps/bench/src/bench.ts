/**
 * `npm run bench [-- <scenario> ...] [flags]`: the comparison with peers
 * (main.ts: fan-out, latency, many-docs, large-doc-join, reconnect, cold-load, workspace, subdocs)
 * and the mesh scenarios (mesh/main.ts: `mesh` for all of them, or
 * `mesh:propagation`, `mesh:partition`, `mesh:idle`, `mesh:region`), and
 * `kit` (kit/main.ts: the testing kit's in-process mode at scale),
 * `history` (history/main.ts: version history on the 100k-operation document) and `bundle`
 * (bundle/main.ts: the SDK's bundle size next to the peers').
 * No scenario: everything. Each runner is its own process; figures are printed.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const args = process.argv.slice(2)
/** Flags that take no value; every other `--flag` takes the next argument (unless written `--flag=value`). */
const BOOLEAN_FLAGS = new Set(['--snapshot', '--quick', '--help'])
const flags: string[] = []
const positionals: string[] = []
for (let i = 0; i < args.length; i++) {
  const a = args[i] as string
  if (!a.startsWith('--')) positionals.push(a)
  else if (BOOLEAN_FLAGS.has(a) || a.includes('=') || i + 1 >= args.length) flags.push(a)
  else flags.push(a, args[++i] as string)
}
const mesh = positionals.filter((p) => p === 'mesh' || p.startsWith('mesh:'))
const kit: string[] = positionals.filter((p) => p === 'kit' || p === 'kit:memory')
const history = positionals.includes('history')
const bundle = positionals.includes('bundle')
const peers = positionals.filter((p) => !mesh.includes(p) && !kit.includes(p) && p !== 'history' && p !== 'bundle')

const run = (script: string, scriptArgs: string[]): number => {
  const result = spawnSync(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...scriptArgs], { stdio: 'inherit' })
  return result.status ?? 1
}

let status = 0
if (peers.length > 0 || positionals.length === 0) status = Math.max(status, run('./main.js', [...peers, ...(mesh.length === 0 ? flags : [])]))
if (mesh.length > 0 || positionals.length === 0) {
  const scenarios = mesh.length === 0 || mesh.includes('mesh') ? [] : mesh.map((m) => m.slice('mesh:'.length))
  const meshFlags = peers.length === 0 ? flags : []
  if (scenarios.length === 0) status = Math.max(status, run('./mesh/main.js', meshFlags))
  for (const s of scenarios) status = Math.max(status, run('./mesh/main.js', [s, ...meshFlags]))
}
if (kit.length > 0 || positionals.length === 0) status = Math.max(status, run('./kit/main.js', []))
if (history || positionals.length === 0) status = Math.max(status, run('./history/main.js', []))
if (bundle || positionals.length === 0) status = Math.max(status, run('./bundle/main.js', peers.length === 0 && mesh.length === 0 ? flags : []))
process.exit(status)
