import type * as Y from 'yjs'
import type { DurabilityLevel, MeridianProvider, MeridianProviderOptions } from '@meridian/client'
import type { RelayOptions } from '@meridian/relay'

/**
 * `memory`: relays, clients and the network in this process, on simulated
 * time, deterministic for a seed. `process`: real relay processes (the CLI)
 * behind fault-injecting TCP proxies, real time.
 */
export type ClusterMode = 'memory' | 'process'

export interface ClientSpec {
  /** Default `c1`, `c2`, … */
  id?: string
  /** Default: the cluster's `docName`. */
  docName?: string
  /** Connect to a relay of this region (the first one; the others are its failover list). Default: round-robin over all relays. */
  region?: string
  /** Connect to this relay (overrides `region`). */
  relay?: string
  /** Provider options for this client only (over `clientOptions`), e.g. its policy. */
  options?: Partial<Omit<MeridianProviderOptions, 'doc' | 'docName' | 'url' | 'urls'>>
}

/** A multiplexed client: one connection (`@meridian/client/multiplex`) for several documents. Memory mode. */
export interface WorkspaceSpec {
  /** Default `w1`, `w2`, … */
  id?: string
  /** Documents to open at once (more with `workspace.open`). */
  docNames?: readonly string[]
  /** Connect to a relay of this region (the others of it are its failover list). Default: the first relay. */
  region?: string
  /** Connect to this relay (overrides `region`). */
  relay?: string
  /** Provider options for its documents. */
  options?: Partial<Omit<MeridianProviderOptions, 'doc' | 'docName' | 'url' | 'urls' | 'WebSocket' | 'params' | 'backoff' | 'connectTimeoutMs' | 'clock' | 'random'>>
}

export interface ClusterOptions {
  /** Default `memory`. */
  mode?: ClusterMode
  /** Seeds everything random (edits, network jitter, client ids). Default: a fresh one; failures print it. */
  seed?: number
  /** Region names. Default `['r1']`. */
  regions?: readonly string[]
  /** Default 1. Relay ids are `<region>-<n>`. */
  relaysPerRegion?: number
  /** A count (spread round-robin over the relays, all on `docName`) or one spec per client. Default 0. */
  clients?: number | readonly ClientSpec[]
  /** Default `doc`. */
  docName?: string
  /** Extra relay options (memory mode: any RelayOptions but storage/mesh transport; process mode: see `relayArgs`). */
  relayOptions?: Partial<Omit<RelayOptions, 'storage'>>
  /** Extra provider options for every client (policy, backoff, …). */
  clientOptions?: Partial<Omit<MeridianProviderOptions, 'doc' | 'docName' | 'url' | 'urls'>>
  /** Memory mode: one-way message latency in simulated ms, drawn uniformly from [min, max]. Default [1, 5]. */
  latencyMs?: readonly [number, number]
  /** Mesh timing for every relay (simulated ms in memory mode). Defaults suit tests: fast heartbeats and anti-entropy. */
  meshTiming?: Partial<MeshTiming>
}

export interface MeshTiming {
  heartbeatIntervalMs: number
  suspectAfterMs: number
  downAfterMs: number
  antiEntropyIntervalMs: number
}

export interface ClusterRelay {
  readonly id: string
  readonly region: string
  /** What clients dial. */
  readonly url: string
  /** False between `crash` and `restart`. */
  readonly running: boolean
}

export interface ClusterClient {
  readonly id: string
  readonly docName: string
  readonly doc: Y.Doc
  readonly provider: MeridianProvider
  /** The relay it dials first. */
  readonly relay: ClusterRelay
  /** Every `error` event of its provider, as `CODE: message`. */
  readonly errors: readonly string[]
}

/** A relay, a client, or a name: relay id, client id or region name (every relay of it). */
export type Endpoint = ClusterRelay | ClusterClient | string

export interface PartitionOptions {
  /** Only traffic from `b` to `a` is cut; `a` still reaches `b`. Default false. */
  oneWay?: boolean
}

export interface SettleOptions {
  /** Give up (rejecting with what still differs) after this long: simulated ms in memory mode, real ms in process mode. Default 60,000 / 30,000. */
  timeoutMs?: number
}

/** Traffic counted since the cluster started (memory mode counts every message; process mode the proxies' relay-to-relay bytes). */
export interface TrafficReport {
  messages: number
  bytes: number
  /** Per kind: `client->relay`, `relay->client`, `relay->relay`. */
  byKind: Record<string, { messages: number; bytes: number }>
}

export interface SettleReport extends TrafficReport {
  /** How long settling took (simulated ms in memory mode). */
  elapsedMs: number
}

export interface ClusterReport extends TrafficReport {
  seed: number
  mode: ClusterMode
  /** Time since the cluster started (simulated ms in memory mode). */
  elapsedMs: number
  /** The last `settle()`'s duration. */
  lastSettleMs: number | null
}

export interface NoLostWritesOptions {
  /** Only writes that reached this level (by the writer's provider) are required everywhere. Default `relay`. */
  level?: DurabilityLevel
  /** Also require writes from these clients only. Default: all. */
  clients?: readonly ClusterClient[]
}

export interface Cluster {
  readonly mode: ClusterMode
  readonly seed: number
  readonly relays: readonly ClusterRelay[]
  readonly clients: readonly ClusterClient[]
  relay(id: string): ClusterRelay
  client(id: string): ClusterClient
  /** Adds a client after start. */
  addClient(spec?: ClientSpec): Promise<ClusterClient>
  /** Cuts traffic between `a` and `b` (both directions, or with `oneWay` only b → a). */
  partition(a: Endpoint, b: Endpoint, options?: PartitionOptions): void
  /** Removes the partitions between `a` and `b`, or every partition. */
  heal(a?: Endpoint, b?: Endpoint): void
  /** Stops a relay abruptly (kill -9): what it had not committed is gone; its storage stays. */
  crash(relay: Endpoint): Promise<void>
  restart(relay: Endpoint): Promise<void>
  /** Memory mode: runs the next event (a message delivery or a timer); false when nothing is scheduled. Process mode: lets ~10 ms pass. */
  step(): Promise<boolean>
  /** Simulated ms in memory mode (starting at 2026-01-01), the system clock in process mode. */
  now(): number
  /** Runs (memory) or waits (process) until `check` holds; rejects naming `what` after `timeoutMs` (cluster time, default 10,000). */
  until(check: () => boolean | Promise<boolean>, what: string, options?: { timeoutMs?: number }): Promise<void>
  /** Runs (memory) or waits (process) until `promise` settles, and returns its outcome — e.g. `drive(provider.whenDurable(u, 'relay'))`. */
  drive<T>(promise: Promise<T>, options?: { timeoutMs?: number }): Promise<T>
  /** Lets `ms` pass (simulated in memory mode): messages flow, timers fire. */
  run(ms: number): Promise<void>
  /**
   * Runs until every document's replicas (its clients and every running
   * relay) agree and no client has an unacknowledged write. Rejects with the
   * differences and the seed after `timeoutMs`.
   */
  settle(options?: SettleOptions): Promise<SettleReport>
  /** `randomEdits` on a client, recorded for `expectNoLostWrites`. Returns the updates. */
  randomEdits(client: Endpoint, options: { seed?: number; ops: number }): Uint8Array[]
  /** Records a write the test made itself (the update the doc emitted) for `expectNoLostWrites`. */
  recordWrite(client: Endpoint, update: Uint8Array): void
  /** Every replica of a document: its clients' docs and each running relay's stored copy. */
  replicas(docName: string): Promise<{ name: string; doc: Y.Doc }[]>
  /** Rejects with a readable diff (and the seed) unless every replica of each document (default: all) agrees. */
  expectConverged(targets?: readonly ClusterClient[] | readonly string[]): Promise<void>
  /** Rejects naming each missing write unless every recorded write that reached `level` is in every replica of its document. */
  expectNoLostWrites(options?: NoLostWritesOptions): Promise<void>
  report(): ClusterReport
  close(): Promise<void>
}
