import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startFaultProxy, type FaultProxy } from '@meridian/testing'
import { startRelayProcess, type RelayProcess } from './relay-process.js'
import { freePort } from './ports.js'

export interface ClusterRelay {
  readonly nodeId: string
  readonly region: string
  readonly port: number
  readonly dataDir: string
  /** Clients connect here directly. */
  readonly url: string
  /** Other relays reach this one through its proxy. */
  readonly proxy: FaultProxy
  process: RelayProcess | null
}

export interface ProcessCluster {
  readonly relays: ClusterRelay[]
  readonly proxies: Map<string, FaultProxy>
  byId(nodeId: string): ClusterRelay
  crash(nodeId: string): Promise<void>
  restart(nodeId: string): Promise<void>
  close(): Promise<void>
}

export interface ProcessClusterOptions {
  regions: string[]
  relaysPerRegion: number
  /** Mesh timing flags for every relay. */
  timing?: { heartbeatIntervalMs: number; suspectAfterMs: number; downAfterMs: number; antiEntropyIntervalMs: number }
  /** Extra CLI arguments for every relay (e.g. `--auth none`). */
  extraArgs?: string[]
}

const FAST = { heartbeatIntervalMs: 200, suspectAfterMs: 1_500, downAfterMs: 4_000, antiEntropyIntervalMs: 400 }

/**
 * Real relay processes (the CLI), `relaysPerRegion` per region, each behind a
 * fault-injecting TCP proxy that every other relay dials (its advertise URL).
 * Every relay is seeded with the first relay's proxy only: the rest is gossip.
 */
export async function startProcessCluster(options: ProcessClusterOptions): Promise<ProcessCluster> {
  const secret = randomBytes(16).toString('hex')
  const timing = options.timing ?? FAST
  const relays: ClusterRelay[] = []
  const proxies = new Map<string, FaultProxy>()
  for (const region of options.regions) {
    for (let i = 1; i <= options.relaysPerRegion; i++) {
      const nodeId = `${region}-${i}`
      const port = await freePort()
      const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port }, name: nodeId })
      proxies.set(nodeId, proxy)
      relays.push({ nodeId, region, port, dataDir: mkdtempSync(join(tmpdir(), `meridian-${nodeId}-`)), url: `ws://127.0.0.1:${port}`, proxy, process: null })
    }
  }
  const seed = relays[0]?.proxy.url as string
  const args = (r: ClusterRelay): string[] => [
    '--port', String(r.port), '--data-dir', r.dataDir, '--region', r.region, '--node-id', r.nodeId,
    '--cluster-secret', secret, '--advertise-url', r.proxy.url,
    ...(r === relays[0] ? [] : ['--peer', seed]),
    '--heartbeat-interval-ms', String(timing.heartbeatIntervalMs), '--suspect-after-ms', String(timing.suspectAfterMs),
    '--down-after-ms', String(timing.downAfterMs), '--anti-entropy-interval-ms', String(timing.antiEntropyIntervalMs),
    ...(options.extraArgs ?? [])
  ]
  const start = async (r: ClusterRelay): Promise<void> => {
    r.process = await startRelayProcess(args(r))
  }
  await Promise.all(relays.map(start))
  const byId = (nodeId: string): ClusterRelay => {
    const r = relays.find((x) => x.nodeId === nodeId)
    if (r === undefined) throw new Error(`no relay ${nodeId}`)
    return r
  }
  return {
    relays,
    proxies,
    byId,
    crash: async (nodeId) => {
      const r = byId(nodeId)
      await r.process?.kill('SIGKILL')
      r.process = null
    },
    restart: async (nodeId) => start(byId(nodeId)),
    close: async () => {
      await Promise.all(relays.map(async (r) => {
        if (r.process !== null && r.process.child.exitCode === null && r.process.child.signalCode === null) await r.process.kill('SIGKILL')
        await r.proxy.close()
        rmSync(r.dataDir, { recursive: true, force: true })
      }))
    }
  }
}

/** GET a relay's JSON endpoint. */
export async function getJson<T>(relayUrl: string, path: string): Promise<T> {
  const res = await fetch(relayUrl.replace(/^ws/, 'http') + path)
  return (await res.json()) as T
}
