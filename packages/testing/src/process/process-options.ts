import type { ClusterOptions, MeshTiming } from '../cluster-types.js'
import { KitError } from '../assertions.js'

/** What `relayArgs` is told about the relay it gives arguments for. */
export interface ProcessRelayInfo {
  /** `<region>-<n>` */
  readonly id: string
  readonly region: string
  /** 0-based position within its region. */
  readonly index: number
}

export interface ProcessClusterOptions extends Omit<ClusterOptions, 'mode' | 'relayArgs'> {
  mode?: 'process'
  /**
   * Extra CLI arguments, for every relay or per relay (e.g. `--storage
   * postgres://…`, `--bus redis://…`, `--auth jwt`). They come last, so they
   * override the kit's own flags.
   */
  relayArgs?: readonly string[] | ((relay: ProcessRelayInfo) => readonly string[])
  /**
   * The relays' admin token (`--admin-token`, at least 16 characters), which the
   * kit's own `/v1` requests (forming the mesh, `relayJson`) send. Needed when
   * `relayArgs` turn auth on (`--auth jwt`): `/v1` then requires one.
   */
  adminToken?: string
  /** Extra environment variables for every relay process. */
  relayEnv?: Readonly<Record<string, string>>
  /** The `meridian-relay` CLI script. Default: resolved from the `@meridian/cli` package (see `resolveRelayMain`). */
  relayMain?: string
  /** Bounds starting each relay, forming the mesh and the first sync of the initial clients. Default 20,000 ms. */
  startTimeoutMs?: number
  /** Wait until every relay is linked to every other before resolving. Default true. */
  waitForMesh?: boolean
  /** `--log-level` of the relays (their output shows in start failures). Default `warn`. */
  relayLogLevel?: string
}

/** Fast enough that partitions are noticed and repaired within seconds. */
export const PROCESS_MESH_TIMING: MeshTiming = { heartbeatIntervalMs: 200, suspectAfterMs: 1_500, downAfterMs: 4_000, antiEntropyIntervalMs: 400 }

export interface ResolvedProcessOptions {
  seed: number
  regions: readonly string[]
  relaysPerRegion: number
  docName: string
  timing: MeshTiming
  startTimeoutMs: number
  waitForMesh: boolean
  relayLogLevel: string
}

export function resolveProcessOptions(options: ProcessClusterOptions, seed: number): ResolvedProcessOptions {
  const fail = (message: string): never => {
    throw new KitError('ERR_CLUSTER_OPTIONS', message, seed)
  }
  if ((options.mode as string | undefined) !== undefined && options.mode !== 'process') fail(`startProcessCluster needs mode 'process', got '${String(options.mode)}'`)
  if (options.relayOptions !== undefined) fail('relayOptions are for memory mode; process mode configures relays with relayArgs (CLI flags)')
  const regions = options.regions ?? ['r1']
  if (regions.length === 0 || new Set(regions).size !== regions.length) fail('regions must be distinct names, at least one')
  for (const r of regions) if (!/^[A-Za-z0-9_.-]+$/.test(r)) fail(`region names are [A-Za-z0-9_.-]+, got '${r}'`)
  const relaysPerRegion = options.relaysPerRegion ?? 1
  if (!Number.isSafeInteger(relaysPerRegion) || relaysPerRegion < 1) fail(`relaysPerRegion must be a positive integer, got ${String(relaysPerRegion)}`)
  return {
    seed,
    regions,
    relaysPerRegion,
    docName: options.docName ?? 'doc',
    timing: { ...PROCESS_MESH_TIMING, ...options.meshTiming },
    startTimeoutMs: options.startTimeoutMs ?? 20_000,
    waitForMesh: options.waitForMesh ?? true,
    relayLogLevel: options.relayLogLevel ?? 'warn'
  }
}

export function meshTimingArgs(t: MeshTiming): string[] {
  return [
    '--heartbeat-interval-ms', String(t.heartbeatIntervalMs), '--suspect-after-ms', String(t.suspectAfterMs),
    '--down-after-ms', String(t.downAfterMs), '--anti-entropy-interval-ms', String(t.antiEntropyIntervalMs)
  ]
}

export function extraRelayArgs(options: ProcessClusterOptions, relay: ProcessRelayInfo): readonly string[] {
  const extra = options.relayArgs
  return extra === undefined ? [] : typeof extra === 'function' ? extra(relay) : extra
}
