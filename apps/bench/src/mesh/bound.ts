/**
 * The staleness bound a client sees on a healthy mesh (issue 14): two relay
 * processes (eu, us), an SDK observer on us, and the bound it reports sampled
 * every 10 ms — as of the moment it is read (the last decision's bound plus the
 * time since it was made). Idle: no writes. Busy: writers on eu. Cost: the
 * anti-entropy bytes on the link and the relays' CPU time over the window.
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as Y from 'yjs'
import { MeridianProvider } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { policyEngine } from '@meridian/client/policy'
import { DEFAULT_MESH_OPTIONS } from '@meridian/relay'
import { NodeWebSocket, TEST_BACKOFF } from '@meridian/testing'
import { BenchClient, cluster, percentile, startMeshRelays, until, type BenchRelay } from './cluster.js'

interface Links {
  members: { linked: boolean }[]
  regions: Record<string, { stalenessMs: number | null }>
  links: Record<string, { bytesSentByType: Record<string, number>; bytesReceivedByType: Record<string, number> }>
}

export interface BoundOptions {
  antiEntropyIntervalMs: number
  seconds: number
  /** Updates per second written on eu, spread over `docs` documents (0: idle). */
  writesPerSecond: number
  docs: number
  authArgs: string[]
  /** Parent directory of the relays' data dirs (default the OS temp dir). */
  dataRoot?: string
}

/** utime + stime of a process, in ms (Linux /proc; NaN elsewhere). */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
  } catch {
    return NaN
  }
}

const aeBytes = (s: Links, peer: string): number => {
  const link = s.links[peer]
  if (link === undefined) return 0
  let bytes = 0
  for (const [type, b] of [...Object.entries(link.bytesSentByType), ...Object.entries(link.bytesReceivedByType)]) {
    if (type.startsWith('mesh-ae') || type.startsWith('mesh-doc')) bytes += b
  }
  return bytes
}

const r1 = (x: number): number => Math.round(x * 10) / 10

export async function boundScenario(o: BoundOptions): Promise<Record<string, unknown>> {
  const timing = {
    heartbeatIntervalMs: DEFAULT_MESH_OPTIONS.heartbeatIntervalMs,
    suspectAfterMs: DEFAULT_MESH_OPTIONS.suspectAfterMs,
    downAfterMs: DEFAULT_MESH_OPTIONS.downAfterMs,
    antiEntropyIntervalMs: o.antiEntropyIntervalMs
  }
  // Direct links: the proxies live in this process, which also runs the writers and the observer.
  // --data-dir <dir>: e.g. /dev/shm, to keep a shared disk's fsync stalls out of what is measured here.
  const dataDir = (id: string): { dataDir?: string } => (o.dataRoot === undefined ? {} : { dataDir: mkdtempSync(join(o.dataRoot, `meridian-bound-${id}-`)) })
  const { relays, close } = await startMeshRelays([{ nodeId: 'eu-1', region: 'eu', ...dataDir('eu') }, { nodeId: 'us-1', region: 'us', ...dataDir('us') }], timing, o.authArgs, true)
  const [eu, us] = relays as [BenchRelay, BenchRelay]
  const writers: BenchClient[] = []
  let observer: MeridianProvider | null = null
  try {
    await until(async () => (await cluster<Links>(us)).regions.eu?.stalenessMs != null && (await cluster<Links>(eu)).regions.us?.stalenessMs != null, 'first exchanges', 30_000)
    const doc = new Y.Doc()
    observer = new MeridianProvider({
      WebSocket: NodeWebSocket, store: new MemoryClientStore(), crossTab: false, backoff: TEST_BACKOFF,
      doc, docName: 'doc-0', urls: [us.url], policy: { maxStalenessMs: 60_000 }, policyEngine
    })
    await observer.whenLoaded
    const provider = observer
    await until(() => provider.policy.stalenessBoundMs !== null, 'observer bounded', 30_000)
    for (let i = 0; i < (o.writesPerSecond > 0 ? o.docs : 0); i++) {
      const w = await BenchClient.open(eu.url, `doc-${i}`)
      w.doc.on('update', (update: Uint8Array, origin: unknown) => {
        if (origin !== 'remote') w.send({ type: 'sync-update', update })
      })
      writers.push(w)
    }
    const before = { ae: aeBytes(await cluster<Links>(eu), 'us-1'), cpu: cpuMs(eu.child.pid) + cpuMs(us.child.pid) }
    const samples: number[] = []
    // The relay's own report towards eu (its part of the bound), polled alongside.
    const relaySide: number[] = []
    let polling = true
    const poll = (async () => {
      while (polling) {
        const s = (await cluster<Links>(us)).regions.eu?.stalenessMs
        if (typeof s === 'number') relaySide.push(s)
        await new Promise((r) => setTimeout(r, 50))
      }
    })()
    let unbounded = 0
    let written = 0
    const started = performance.now()
    const endAt = Date.now() + o.seconds * 1000
    while (Date.now() < endAt) {
      // Writes due by now (paced, not bursty).
      const due = Math.floor(((performance.now() - started) / 1000) * o.writesPerSecond)
      for (; written < due && writers.length > 0; written++) {
        const w = writers[written % writers.length] as BenchClient
        w.doc.getMap('m').set(`k${written}`, written)
      }
      const d = provider.policy
      if (d.stalenessBoundMs === null) unbounded++
      else samples.push(d.stalenessBoundMs + Math.max(0, Date.now() - d.evaluatedAtMs))
      await new Promise((r) => setTimeout(r, 10))
    }
    const elapsedS = (performance.now() - started) / 1000
    polling = false
    await poll
    relaySide.sort((a, b) => a - b)
    const after = { ae: aeBytes(await cluster<Links>(eu), 'us-1'), cpu: cpuMs(eu.child.pid) + cpuMs(us.child.pid) }
    samples.sort((a, b) => a - b)
    return {
      antiEntropyIntervalMs: o.antiEntropyIntervalMs,
      writesPerSecond: o.writesPerSecond,
      samples: samples.length,
      unboundedSamples: unbounded,
      boundP50Ms: r1(percentile(samples, 50)),
      boundP99Ms: r1(percentile(samples, 99)),
      boundMaxMs: r1(samples.at(-1) ?? NaN),
      relayReportedP50Ms: r1(percentile(relaySide, 50)),
      relayReportedP99Ms: r1(percentile(relaySide, 99)),
      antiEntropyBytesPerSecond: r1((after.ae - before.ae) / elapsedS),
      relaysCpuPercent: r1(((after.cpu - before.cpu) / 1000 / elapsedS) * 100)
    }
  } finally {
    await observer?.destroy()
    for (const w of writers) w.close()
    await close()
  }
}
