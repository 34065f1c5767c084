/**
 * Mesh benchmarks (issue: multi-region relay mesh). Real relay processes, each
 * behind a fault-injecting proxy; figures are printed, never asserted.
 *
 *   node apps/bench/dist/mesh/main.js [propagation|partition|idle|region|bound] [--partition-ms N] [--docs N]
 *   bound: [--intervals 5000,1000,500,250] [--seconds N] [--writes-per-second N] [--docs N] [--data-root /dev/shm]
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { openSqliteStorage } from '@meridian/storage-sqlite'
import { BenchClient, cluster, percentile, startMeshRelays, until } from './cluster.js'
import { regionFanOut } from './region.js'
import { boundScenario } from './bound.js'

const FAST = { heartbeatIntervalMs: 200, suspectAfterMs: 1_500, downAfterMs: 4_000, antiEntropyIntervalMs: 500 }

interface Links {
  members: { linked: boolean }[]
  regions: Record<string, { stalenessMs: number | null }>
  links: Record<string, { messagesSent: Record<string, number>; messagesReceived: Record<string, number>; bytesSentByType: Record<string, number>; bytesReceivedByType: Record<string, number> }>
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN
  return Number.isFinite(v) && v > 0 ? v : fallback
}

/** Send-to-receive time of updates crossing regions over links with injected latency. */
async function propagation(): Promise<Record<string, unknown>> {
  const latencyMs = arg('latency-ms', 50)
  const updates = arg('updates', 300)
  const { relays, close } = await startMeshRelays([{ nodeId: 'eu-1', region: 'eu' }, { nodeId: 'us-1', region: 'us' }, { nodeId: 'ap-1', region: 'ap' }], FAST, ['--auth', 'none'].filter(() => authFlag))
  try {
    await until(async () => (await Promise.all(relays.map((r) => cluster<Links>(r)))).every((s) => s.members.filter((m) => m.linked).length === 2), 'mesh linked', 30_000)
    for (const r of relays) r.proxy.setLatency(latencyMs)
    const sentAt = new Map<string, number>()
    const latencies: Record<string, number[]> = { us: [], ap: [] }
    const receivers = await Promise.all((['us', 'ap'] as const).map((region, i) => {
      const seen = new Set<string>()
      return BenchClient.open((relays[i + 1] as { url: string }).url, 'propagation', () => {
        const client = receiversRef[i]
        if (client === undefined) return
        for (const key of client.doc.getMap('m').keys()) {
          if (seen.has(key)) continue
          seen.add(key)
          const t = sentAt.get(key)
          if (t !== undefined) latencies[region]?.push(performance.now() - t)
        }
      })
    }))
    const receiversRef = receivers
    const writer = await BenchClient.open((relays[0] as { url: string }).url, 'propagation')
    await new Promise((r) => setTimeout(r, 300))
    const onUpdate = (update: Uint8Array, origin: unknown): void => {
      if (origin !== 'remote') writer.send({ type: 'sync-update', update })
    }
    writer.doc.on('update', onUpdate)
    for (let i = 0; i < updates; i++) {
      const key = `k${i}`
      sentAt.set(key, performance.now())
      writer.doc.getMap('m').set(key, i)
      await new Promise((r) => setTimeout(r, 20))
    }
    await until(() => (latencies.us?.length ?? 0) >= updates && (latencies.ap?.length ?? 0) >= updates, 'all updates received', 30_000)
    writer.close()
    for (const r of receivers) r.close()
    const out: Record<string, unknown> = { latencyMs, updates }
    for (const [region, values] of Object.entries(latencies)) {
      values.sort((a, b) => a - b)
      out[region] = { p50Ms: round(percentile(values, 50)), p99Ms: round(percentile(values, 99)), maxMs: round(values.at(-1) ?? NaN) }
    }
    return out
  } finally {
    await close()
  }
}

/** Time to converge after a partition with writes on both sides. */
async function partition(): Promise<Record<string, unknown>> {
  const partitionMs = arg('partition-ms', 30_000)
  const { relays, close } = await startMeshRelays([{ nodeId: 'eu-1', region: 'eu' }, { nodeId: 'us-1', region: 'us' }], FAST, ['--auth', 'none'].filter(() => authFlag))
  try {
    const [eu, us] = relays as [typeof relays[0] & object, typeof relays[0] & object]
    await until(async () => (await cluster<Links>(eu)).members.filter((m) => m.linked).length === 1, 'mesh linked', 30_000)
    const writers = await Promise.all([eu, us].map((r) => BenchClient.open(r.url, 'partitioned')))
    for (const [i, w] of writers.entries()) {
      w.doc.on('update', (update: Uint8Array, origin: unknown) => {
        if (origin !== 'remote') w.send({ type: 'sync-update', update })
      })
      w.doc.clientID = 1000 + i
    }
    await new Promise((r) => setTimeout(r, 300))
    eu.proxy.partition('us-1')
    us.proxy.partition('eu-1')
    const end = Date.now() + partitionMs
    let n = 0
    while (Date.now() < end) {
      for (const [i, w] of writers.entries()) w.doc.getText('t').insert(0, `${i}:${n} `)
      n++
      await new Promise((r) => setTimeout(r, 50))
    }
    const healedAt = performance.now()
    eu.proxy.heal()
    us.proxy.heal()
    const sv = (d: Y.Doc): string => Buffer.from(Y.encodeStateVector(d)).toString('hex')
    await until(() => sv((writers[0] as BenchClient).doc) === sv((writers[1] as BenchClient).doc), 'convergence', 120_000, 10)
    const convergeMs = performance.now() - healedAt
    for (const w of writers) w.close()
    return { partitionMs, writesPerSide: n, convergeAfterHealMs: round(convergeMs) }
  } finally {
    await close()
  }
}

/** Anti-entropy traffic per round between two relays holding the same N documents. */
async function idle(): Promise<Record<string, unknown>> {
  const docs = arg('docs', 10_000)
  const seedDir = mkdtempSync(join(tmpdir(), 'meridian-bench-seed-'))
  const storage = openSqliteStorage({ dataDir: seedDir, synchronous: 'normal' })
  for (let i = 0; i < docs; i++) {
    const d = new Y.Doc()
    d.clientID = 1
    d.getText('t').insert(0, `document ${i}`)
    await storage.append(`doc-${i}`, Y.encodeStateAsUpdate(d))
  }
  await storage.close()
  const dirs = ['eu', 'us'].map((r) => {
    const dir = mkdtempSync(join(tmpdir(), `meridian-bench-${r}-`))
    copyFileSync(join(seedDir, 'meridian.sqlite3'), join(dir, 'meridian.sqlite3'))
    return dir
  })
  rmSync(seedDir, { recursive: true, force: true })
  const timing = { ...FAST, antiEntropyIntervalMs: 1_000 }
  const { relays, close } = await startMeshRelays([{ nodeId: 'eu-1', region: 'eu', dataDir: dirs[0] as string }, { nodeId: 'us-1', region: 'us', dataDir: dirs[1] as string }], timing, ['--auth', 'none'].filter(() => authFlag))
  try {
    const eu = relays[0] as (typeof relays)[0] & object
    // The first rounds wait for each relay to digest its stored documents.
    const started = performance.now()
    await until(async () => (await cluster<Links>(eu)).regions.us?.stalenessMs !== null && (await cluster<Links>(relays[1] as typeof eu)).regions.eu?.stalenessMs !== null, 'first rounds', 300_000, 200)
    const firstRoundsMs = performance.now() - started
    const measure = (s: Links): { bytes: number; rounds: number } => {
      const link = s.links['us-1']
      if (link === undefined) return { bytes: 0, rounds: 0 }
      let bytes = 0
      for (const [type, b] of [...Object.entries(link.bytesSentByType), ...Object.entries(link.bytesReceivedByType)]) {
        if (type.startsWith('mesh-ae') || type.startsWith('mesh-doc')) bytes += b
      }
      return { bytes, rounds: (link.messagesSent['mesh-ae-root'] ?? 0) + (link.messagesReceived['mesh-ae-root'] ?? 0) }
    }
    const before = measure(await cluster<Links>(eu))
    await new Promise((r) => setTimeout(r, 10_000))
    const after = measure(await cluster<Links>(eu))
    const rounds = after.rounds - before.rounds
    return { docs, rounds, bytesPerRound: round((after.bytes - before.bytes) / Math.max(1, rounds)), firstRoundsAfterStartMs: round(firstRoundsMs) }
  } finally {
    await close()
  }
}

const round = (x: number): number => Math.round(x * 10) / 10
let authFlag = false

async function main(): Promise<void> {
  const { execFileSync } = await import('node:child_process')
  const help = execFileSync(process.execPath, [new URL('../../../relay/dist/main.js', import.meta.url).pathname, '--help']).toString()
  authFlag = help.includes('--auth')
  const which = process.argv[2] !== undefined && !process.argv[2].startsWith('--') ? [process.argv[2]] : ['propagation', 'idle', 'partition']
  const region = async (): Promise<Record<string, unknown>> => {
    const authArgs = authFlag ? ['--auth', 'none'] : []
    const base = { receivers: arg('receivers', 60), updates: arg('updates', 1_000), windowSize: 100, authArgs }
    return { oneRelay: await regionFanOut({ ...base, relays: 1 }), threeRelays: await regionFanOut({ ...base, relays: 3 }), caveat: 'a 2-core machine cannot show a scale-out speed-up: the three relays share the same cores' }
  }
  const bound = async (): Promise<Record<string, unknown>> => {
    const authArgs = authFlag ? ['--auth', 'none'] : []
    const i = process.argv.indexOf('--intervals')
    const intervals = (i >= 0 ? (process.argv[i + 1] ?? '') : '5000,1000,500,250').split(',').map(Number).filter((n) => n > 0)
    const out: Record<string, unknown> = {}
    for (const antiEntropyIntervalMs of intervals) {
      const d = process.argv.indexOf('--data-root')
      const base = { antiEntropyIntervalMs, seconds: arg('seconds', 15), docs: arg('docs', 10), authArgs, ...(d >= 0 && process.argv[d + 1] !== undefined ? { dataRoot: process.argv[d + 1] as string } : {}) }
      out[`ae${antiEntropyIntervalMs}`] = {
        idle: await boundScenario({ ...base, writesPerSecond: 0 }),
        busy: await boundScenario({ ...base, writesPerSecond: arg('writes-per-second', 200) })
      }
    }
    return out
  }
  const scenarios: Record<string, () => Promise<Record<string, unknown>>> = { propagation, partition, idle, region, bound }
  for (const name of which) {
    const run = scenarios[name]
    if (run === undefined) throw new Error(`unknown mesh scenario ${name}; one of ${Object.keys(scenarios).join(', ')}`)
    const started = performance.now()
    const result = await run()
    console.log(`mesh ${name}: ${JSON.stringify(result)} (${Math.round(performance.now() - started)} ms)`)
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
