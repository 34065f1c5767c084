/**
 * `npm run bench -- kit`: the testing kit's in-process mode at scale — 5
 * regions (1 relay each; `npm run bench -- kit <seed> <relaysPerRegion>`), 50 clients on 10 documents
 * (each edited by one client in every region), 10,000 random edits with a
 * region cut off for part of the run, then heal, settle and both assertions.
 * Prints wall-clock time (the target is under 10 s on the 2-core machine),
 * simulated time and traffic.
 */
import { performance } from 'node:perf_hooks'
import { createMemoryCluster } from '@meridian/testing'

const REGIONS = ['eu', 'us', 'ap', 'sa', 'af']
const CLIENTS = 50
const DOCS = 10
const OPS = 10_000
const ROUNDS = 100
const RELAYS_PER_REGION = Number(process.argv[3] ?? 1)
const seed = Number(process.argv[2] ?? 1)

const t0 = performance.now()
const cpu0 = process.cpuUsage()
const cluster = await createMemoryCluster({
  seed,
  regions: REGIONS,
  relaysPerRegion: RELAYS_PER_REGION,
  clients: Array.from({ length: CLIENTS }, (_, i) => ({ region: REGIONS[i % REGIONS.length] as string, docName: `doc-${Math.floor(i / REGIONS.length) % DOCS}` })),
  latencyMs: [2, 40]
})
try {
  await cluster.settle()
  const tReady = performance.now()
  const perClientPerRound = OPS / ROUNDS / CLIENTS
  for (let round = 0; round < ROUNDS; round++) {
    if (round === 30) cluster.partition('ap', 'eu')
    if (round === 60) cluster.heal()
    for (const client of cluster.clients) cluster.randomEdits(client, { ops: perClientPerRound })
    await cluster.run(20)
  }
  const tEdits = performance.now()
  const settled = await cluster.settle()
  await cluster.expectConverged()
  await cluster.expectNoLostWrites()
  const tEnd = performance.now()
  const cpu = process.cpuUsage(cpu0)
  const r = cluster.report()
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
  console.log(`kit:memory — ${REGIONS.length} regions × ${RELAYS_PER_REGION} relays, ${CLIENTS} clients, ${DOCS} documents, ${OPS.toLocaleString('en')} operations (seed ${seed})`)
  console.log(`  wall clock: total ${s(tEnd - t0)} (start + first settle ${s(tReady - t0)}, edits ${s(tEdits - tReady)}, settle + assertions ${s(tEnd - tEdits)})`)
  console.log(`  CPU time of this process: ${s((cpu.user + cpu.system) / 1000)} (incl. the garbage collector's threads)`)
  console.log(`  simulated: ${s(r.elapsedMs)}; converged ${s(settled.elapsedMs)} after the last edit; ${cluster.scheduler.executed.toLocaleString('en')} events`)
  console.log(`  traffic: ${r.messages.toLocaleString('en')} messages, ${(r.bytes / 1e6).toFixed(1)} MB`)
  for (const [kind, k] of Object.entries(r.byKind) as [string, { messages: number; bytes: number }][]) console.log(`    ${kind}: ${k.messages.toLocaleString('en')} messages, ${(k.bytes / 1e6).toFixed(2)} MB`)
  console.log(`  target: under 10 s wall clock — ${tEnd - t0 < 10_000 ? 'met' : 'MISSED'}`)
} finally {
  await cluster.close()
}
