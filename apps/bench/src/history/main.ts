/**
 * `npm run bench -- history`: what version history costs on the 100k-operation
 * benchmark document (fixtures.ts). Ten versions are taken, 1,000 more edits
 * apart; the history document holding them is what the relay stores
 * (`_meridian/history/<doc>`). Prints bytes per retained version (the record
 * in the history document, and the history document's stored size divided by
 * the versions), then the median time to capture, open (a fresh Y.Doc), diff
 * against now, and restore one.
 */
import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { appendVersion, captureVersion, diffVersions, openVersion, restoreVersion } from '@meridian/history'
import { generateLargeDoc, randomEdit, seededRandom } from '../fixtures.js'

const VERSIONS = 10
const EDITS_BETWEEN = 1_000
const REPEATS = 5

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const time = (fn: () => void): number => {
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')

const large = generateLargeDoc()
const live = new Y.Doc()
Y.applyUpdate(live, large.state)
const history = new Y.Doc()
const random = seededRandom(7)
const captureMs: number[] = []
const ids: string[] = []
for (let v = 0; v < VERSIONS; v++) {
  if (v > 0) live.transact(() => {
    for (let i = 0; i < EDITS_BETWEEN; i++) randomEdit(live.getText('text'), random)
  })
  let record: ReturnType<typeof captureVersion> | null = null
  captureMs.push(time(() => {
    record = captureVersion(live, { kind: 'named', label: `v${v}`, nowMs: Date.now(), id: `v${v}` })
  }))
  if (record === null) throw new Error('no version captured')
  appendVersion(history, record)
  ids.push(`v${v}`)
}

const liveBytes = Y.encodeStateAsUpdate(live).length
const recordBytes = ids.map((id) => (history.getMap('versions').get(id) as { stateV2: Uint8Array }).stateV2.length)
const storedHistoryBytes = Y.encodeStateAsUpdate(history).length

const openMs: number[] = []
const diffMs: number[] = []
const restoreMs: number[] = []
for (let r = 0; r < REPEATS; r++) {
  let opened: Y.Doc | null = null
  openMs.push(time(() => {
    opened = openVersion(history, ids[0] as string)
  }))
  const version = opened as unknown as Y.Doc
  const now = new Y.Doc()
  Y.applyUpdate(now, Y.encodeStateAsUpdate(live))
  diffMs.push(time(() => diffVersions(version, now)))
  restoreMs.push(time(() => restoreVersion(now, version)))
  if (now.getText('text').toString() !== version.getText('text').toString()) throw new Error('restore did not reproduce the version')
  now.destroy()
  version.destroy()
}

console.log(`version history on the ${fmt(large.ops)}-operation document (${VERSIONS} versions, ${fmt(EDITS_BETWEEN)} edits apart)`)
console.log(`  live document, one update (V1):          ${fmt(liveBytes)} B`)
console.log(`  bytes per retained version (stateV2):    ${fmt(median(recordBytes))} B median (${fmt(Math.min(...recordBytes))}–${fmt(Math.max(...recordBytes))})`)
console.log(`  history document stored / versions:      ${fmt(storedHistoryBytes / VERSIONS)} B (${fmt(storedHistoryBytes)} B for ${VERSIONS})`)
console.log(`  capture a version:                       ${median(captureMs).toFixed(1)} ms median`)
console.log(`  open a version (fresh Y.Doc):            ${median(openMs).toFixed(1)} ms median of ${REPEATS}`)
console.log(`  diff oldest version against now:        ${median(diffMs).toFixed(1)} ms median`)
console.log(`  restore oldest version (one transaction): ${median(restoreMs).toFixed(1)} ms median`)
