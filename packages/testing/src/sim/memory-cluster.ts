import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay } from '@meridian/relay'
import { MeridianProvider, type WebSocketConstructor } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { FULL_SDK } from '../full-sdk.js'
import { ClusterBase } from '../cluster-base.js'
import { KitError, levelRank } from '../assertions.js'
import { createPrng, deriveSeed, randomSeed } from '../prng.js'

const seededBytes = (random: () => number, n: number) => (): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(random() * 256))
import { loadStoredDoc } from '../stored-doc.js'
import type {
  ClientSpec, ClusterClient, ClusterOptions, ClusterRelay, ClusterReport, Endpoint, MeshTiming, PartitionOptions, SettleOptions, SettleReport, WorkspaceSpec
} from '../cluster-types.js'
import { Scheduler, drainMicrotasks, type ClockSkew } from './scheduler.js'
import { StalenessHonesty } from './staleness-honesty.js'
import { SimNetwork } from './network.js'
import type { SimRelaySocket } from './sockets.js'
import { SimClient, SimWorkspace } from './sim-workspace.js'

/** Mesh timing in simulated ms: quick failure detection and anti-entropy, so partitions heal fast. */
export const SIM_MESH_TIMING: MeshTiming = { heartbeatIntervalMs: 200, suspectAfterMs: 1_000, downAfterMs: 3_000, antiEntropyIntervalMs: 500 }
/** Clients' in-memory stores fold their update log after this many updates (the SDK's default is 200). */
export const DEFAULT_SIM_CLIENT_COMPACT_AFTER = 2_000
export const DEFAULT_SIM_LATENCY_MS: readonly [number, number] = [1, 5]
/** How often settle() checks for convergence, in simulated ms. */
const SETTLE_CHECK_EVERY_MS = 50
/** Upper bound on events per run()/settle() call, so a livelock fails instead of spinning. */
const MAX_EVENTS_PER_CALL = 50_000_000

export interface MemoryClusterOptions extends ClusterOptions {
  /** Keep a line per delivered frame in `network.trace` (determinism checks). Default false; `traceDigest` is always kept. */
  trace?: boolean
  /**
   * Give every relay and client a clock of its own: an offset drawn uniformly from
   * ±`maxOffsetMs` and a rate error from ±`maxRateError` (1e-4 = 100 ppm), fixed per
   * node (a restarted relay keeps its clock), from the seed; relays' offsets from
   * ±`maxRelayOffsetMs` when given. Default: exact clocks.
   */
  clockSkew?: { maxOffsetMs: number; maxRateError: number; maxRelayOffsetMs?: number }
}

class SimRelay implements ClusterRelay {
  running = false
  relay: Relay | null = null
  incarnation = 0
  readonly storage = new MemoryStorageAdapter()
  constructor(readonly id: string, readonly region: string, readonly url: string) {}
}

/**
 * Relays, clients and the network in this process on simulated time: no
 * sockets, no timers. The same seed and the same test actions give the same
 * frames in the same order and the same final documents.
 */
export class MemoryCluster extends ClusterBase {
  readonly mode = 'memory' as const
  readonly scheduler = new Scheduler()
  readonly network: SimNetwork
  readonly relays: SimRelay[] = []
  readonly clients: SimClient[] = []
  readonly workspaces: SimWorkspace[] = []
  private readonly o: MemoryClusterOptions
  private readonly secret: string
  private lastSettleMs: number | null = null
  private honesty: StalenessHonesty | null = null
  private rawSockets = 0
  private closed = false

  constructor(options: MemoryClusterOptions, seed: number) {
    super(seed)
    this.o = options
    this.network = new SimNetwork(this.scheduler, { seed: deriveSeed(seed, 'network'), latencyMs: options.latencyMs ?? DEFAULT_SIM_LATENCY_MS, trace: options.trace })
    this.secret = `sim-cluster-secret-${deriveSeed(seed, 'secret').toString(16)}`
  }

  /** Creates the relays (not started). */
  defineRelays(): void {
    const regions = this.o.regions ?? ['r1']
    const per = this.o.relaysPerRegion ?? 1
    if (regions.length === 0 || new Set(regions).size !== regions.length) throw new KitError('ERR_CLUSTER_OPTIONS', 'regions must be distinct names, at least one')
    if (!Number.isSafeInteger(per) || per < 1) throw new KitError('ERR_CLUSTER_OPTIONS', 'relaysPerRegion must be an integer >= 1')
    for (const region of regions) {
      for (let i = 1; i <= per; i++) {
        const id = `${region}-${i}`
        const r = new SimRelay(id, region, `ws://${id}.sim`)
        this.relays.push(r)
        this.network.addNode(id, 'relay', `${id}.sim`)
      }
    }
  }

  async startRelay(r: SimRelay): Promise<void> {
    r.incarnation++
    const owner = `${r.id}#${r.incarnation}`
    const meshed = this.relays.length > 1
    const first = this.relays[0] as SimRelay
    const timing = { ...SIM_MESH_TIMING, ...this.o.meshTiming }
    const relay = await buildRelay({
      ...this.o.relayOptions,
      storage: r.storage,
      nodeId: r.id,
      region: r.region,
      clock: this.scheduler.clockFor(owner, this.skewOf(r.id)),
      random: createPrng(deriveSeed(this.seed, owner)),
      ...(meshed
        ? {
            mesh: {
              clusterSecret: this.secret,
              peers: r === first ? [] : [first.url],
              advertiseUrl: r.url,
              ...timing,
              dial: (url, o) => this.network.relaySocket(r.id, url, o.headers),
              // Seeded handshake challenges: a run replays byte for byte.
              nonce: seededBytes(createPrng(deriveSeed(this.seed, `${owner}-nonce`)), 32)
            }
          }
        : {})
    })
    await relay.startDetached({ url: r.url })
    r.relay = relay
    r.running = true
    this.network.setAcceptor(r.id, (socket, upgrade) => relay.acceptSocket(socket, upgrade))
  }

  async addClient(spec: ClientSpec = {}): Promise<ClusterClient> {
    this.assertOpen()
    const n = this.clients.length + 1
    const id = spec.id ?? `c${n}`
    if (this.clients.some((c) => c.id === id)) throw new KitError('ERR_CLUSTER_OPTIONS', `client id '${id}' is taken`)
    const relay = spec.relay !== undefined
      ? this.relay(spec.relay)
      : spec.region !== undefined
        ? this.relays.find((r) => r.region === spec.region)
        : this.relays[(n - 1) % this.relays.length]
    if (relay === undefined) throw new KitError('ERR_CLUSTER_OPTIONS', `no relay in region '${spec.region ?? ''}'`)
    // Failover inside the client's region, its own relay first.
    const urls = [relay.url, ...this.relays.filter((r) => r.region === relay.region && r !== relay).map((r) => r.url)]
    const doc = new Y.Doc()
    // Seeded client ids: Yjs would pick random ones, and they order concurrent inserts.
    doc.clientID = deriveSeed(this.seed, `client-${id}`) >>> 1
    const awareness = new Awareness(doc)
    // Awareness renews itself on a real interval; the simulation has no real timers.
    clearInterval((awareness as unknown as { _checkInterval: ReturnType<typeof setInterval> })._checkInterval)
    const network = this.network
    const SimWebSocket = function (this: unknown, url: string) {
      return network.browserSocket(id, url)
    } as unknown as WebSocketConstructor
    this.network.addNode(id, 'client', null)
    const provider = new MeridianProvider({
      // The whole SDK: the policy engine and the delete-set digest (optional entries of @meridian/client).
      ...FULL_SDK,
      backoff: { initialDelayMs: 100, maxDelayMs: 2_000, stableAfterMs: 1_000 },
      // An in-memory store gains nothing from folding its log often; tests that exercise compaction set it lower.
      compactAfterUpdates: DEFAULT_SIM_CLIENT_COMPACT_AFTER,
      ...this.o.clientOptions,
      ...spec.options,
      doc,
      docName: spec.docName ?? this.o.docName ?? 'doc',
      urls,
      store: new MemoryClientStore(),
      WebSocket: SimWebSocket,
      awareness,
      clock: this.scheduler.clockFor(id, this.skewOf(id)),
      random: createPrng(deriveSeed(this.seed, `backoff-${id}`))
    })
    const client = new SimClient(id, spec.docName ?? this.o.docName ?? 'doc', doc, provider, relay)
    provider.on('error', (e) => client.errors.push(`${e.code}: ${e.message}`))
    this.clients.push(client)
    this.honesty?.addClient(client)
    await drainMicrotasks()
    return client
  }

  /**
   * A multiplexed client (one connection for several documents, failover in
   * its region) with `docNames` open; each document is a cluster client
   * `<workspace id>/<doc>` (settle and the expect* checks cover it). A
   * partition or heal naming the workspace id cuts or heals its connection.
   */
  async addWorkspace(spec: WorkspaceSpec = {}): Promise<SimWorkspace> {
    this.assertOpen()
    const id = spec.id ?? `w${this.workspaces.length + 1}`
    if (this.workspaces.some((w) => w.id === id) || this.clients.some((c) => c.id === id)) throw new KitError('ERR_CLUSTER_OPTIONS', `id '${id}' is taken`)
    const relay = spec.relay !== undefined
      ? this.relay(spec.relay)
      : spec.region !== undefined ? this.relays.find((r) => r.region === spec.region) : this.relays[0]
    if (relay === undefined) throw new KitError('ERR_CLUSTER_OPTIONS', `no relay in region '${spec.region ?? ''}'`)
    const urls = [relay.url, ...this.relays.filter((r) => r.region === relay.region && r !== relay).map((r) => r.url)]
    const workspace = new SimWorkspace(this, id, relay, urls, spec)
    this.workspaces.push(workspace)
    for (const docName of spec.docNames ?? []) this.openInWorkspace(workspace, docName)
    await drainMicrotasks()
    return workspace
  }

  /** Opens one more document in a workspace (a cluster client from now on). */
  openInWorkspace(workspace: SimWorkspace, docName: string): SimClient {
    const client = workspace.open(docName)
    this.clients.push(client)
    this.honesty?.addClient(client)
    return client
  }

  /**
   * A bare protocol socket to a relay's document, for relay-level checks
   * (wrap it with `RawClient.over`). It is a network node of its own, `raw-<n>`.
   */
  rawSocket(relay: Endpoint, docName: string): SimRelaySocket {
    const r = this.oneRelay(relay)
    const id = `raw-${++this.rawSockets}`
    this.network.addNode(id, 'client', null)
    return this.network.relaySocket(id, `${r.url}/${encodeURIComponent(docName)}`, {})
  }

  /** A node's clock skew (see `clockSkew`), the same for every incarnation of a relay. */
  skewOf(nodeId: string): ClockSkew {
    const skew = this.o.clockSkew
    if (skew === undefined) return { offsetMs: 0, rate: 1 }
    const rand = createPrng(deriveSeed(this.seed, `clock-${nodeId}`))
    const maxOffsetMs = this.relays.some((r) => r.id === nodeId) ? skew.maxRelayOffsetMs ?? skew.maxOffsetMs : skew.maxOffsetMs
    return { offsetMs: Math.round((rand() * 2 - 1) * maxOffsetMs), rate: 1 + (rand() * 2 - 1) * skew.maxRateError }
  }

  /**
   * From now on, after every simulated event, checks the bounded-staleness promise
   * for every client (see StalenessHonesty): each write acknowledged at or before
   * now − `provider.policy.stalenessBoundMs` is in that client's document. The step
   * that breaks it rejects with ERR_DISHONEST_STALENESS and the seed. Start it
   * before the writes: a write recorded earlier counts as acknowledged when seen.
   */
  expectHonestStaleness(): StalenessHonesty {
    if (this.honesty !== null) return this.honesty
    const honesty = new StalenessHonesty(() => this.scheduler.now(), this.seed)
    for (const c of this.clients) honesty.addClient(c)
    for (const w of this.writes) honesty.addWrite(w.client, w.update)
    this.honesty = honesty
    this.scheduler.afterStep = () => honesty.check()
    return honesty
  }

  override recordWrite(endpoint: Endpoint, update: Uint8Array): void {
    super.recordWrite(endpoint, update)
    const w = this.writes[this.writes.length - 1]
    if (w !== undefined) this.honesty?.addWrite(w.client, w.update)
  }

  partition(a: Endpoint, b: Endpoint, options: PartitionOptions = {}): void {
    for (const x of this.nodeIds(a)) {
      for (const y of this.nodeIds(b)) {
        if (x === y) continue
        this.network.block(y, x)
        if (options.oneWay !== true) this.network.block(x, y)
      }
    }
  }

  heal(a?: Endpoint, b?: Endpoint): void {
    if (a === undefined || b === undefined) {
      this.network.heal()
      return
    }
    for (const x of this.nodeIds(a)) for (const y of this.nodeIds(b)) this.network.heal(x, y)
  }

  async crash(endpoint: Endpoint): Promise<void> {
    const r = this.oneRelay(endpoint) as SimRelay
    if (!r.running) return
    r.running = false
    r.relay = null
    this.network.setAcceptor(r.id, null)
    this.network.crash(r.id)
    // Its timers die with it; its storage (what it committed) stays.
    this.scheduler.cancelOwner(`${r.id}#${r.incarnation}`)
    await drainMicrotasks()
  }

  async restart(endpoint: Endpoint): Promise<void> {
    const r = this.oneRelay(endpoint) as SimRelay
    if (r.running) throw new KitError('ERR_CLUSTER_OPTIONS', `relay ${r.id} is running: crash it first`)
    await this.startRelay(r)
  }

  now(): number {
    return this.scheduler.now()
  }

  step(): Promise<boolean> {
    this.assertOpen()
    return this.scheduler.step()
  }

  async run(ms: number): Promise<void> {
    this.assertOpen()
    const until = this.scheduler.now() + ms
    let events = 0
    while (await this.scheduler.step(until)) {
      if (++events > MAX_EVENTS_PER_CALL) throw new KitError('ERR_SETTLE_TIMEOUT', `more than ${MAX_EVENTS_PER_CALL} events in ${ms} simulated ms: a livelock?`, this.seed)
    }
    this.scheduler.advanceTo(until)
  }

  async settle(options: SettleOptions = {}): Promise<SettleReport> {
    this.assertOpen()
    const timeoutMs = options.timeoutMs ?? 60_000
    const startMs = this.scheduler.elapsedMs
    const before = { messages: this.network.counters.messages, bytes: this.network.counters.bytes }
    for (;;) {
      if (await this.isSettled()) break
      if (this.scheduler.elapsedMs - startMs >= timeoutMs) {
        const lines = await this.differences()
        const pending = this.clients.filter((c) => levelRank(c.provider.durabilityOf('all')) < levelRank('relay')).map((c) => c.id)
        throw new KitError('ERR_SETTLE_TIMEOUT', [
          `not settled after ${timeoutMs} simulated ms`,
          ...(pending.length > 0 ? [`clients with unacknowledged writes: ${pending.join(', ')}`] : []),
          ...lines
        ].join('\n'), this.seed)
      }
      await this.run(SETTLE_CHECK_EVERY_MS)
    }
    const elapsedMs = this.scheduler.elapsedMs - startMs
    this.lastSettleMs = elapsedMs
    return { elapsedMs, messages: this.network.counters.messages - before.messages, bytes: this.network.counters.bytes - before.bytes, byKind: structuredClone(this.network.counters.byKind) }
  }

  report(): ClusterReport {
    const c = this.network.counters
    return { seed: this.seed, mode: 'memory', elapsedMs: this.scheduler.elapsedMs, lastSettleMs: this.lastSettleMs, messages: c.messages, bytes: c.bytes, byKind: structuredClone(c.byKind) }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.honesty?.stop()
    this.scheduler.afterStep = null
    const done = Promise.allSettled([
      ...this.clients.map((c) => c.provider.destroy()),
      ...this.workspaces.map((w) => w.client.destroy()),
      ...this.relays.map((r) => r.relay?.close())
    ])
    // Closing may wait on simulated events (close handshakes): keep time moving until it is done.
    let finished = false
    void done.then(() => {
      finished = true
    })
    for (let i = 0; i < 100_000 && !finished; i++) {
      if (!(await this.scheduler.step())) await drainMicrotasks()
    }
    for (const c of this.clients) c.provider.awareness?.destroy()
  }

  protected async relayDoc(relay: ClusterRelay, docName: string): Promise<Y.Doc> {
    return loadStoredDoc((relay as SimRelay).storage, docName)
  }

  private async isSettled(): Promise<boolean> {
    for (const c of this.clients) if (levelRank(c.provider.durabilityOf('all')) < levelRank('relay')) return false
    // Cheap first: the clients of each document agree on their state vectors.
    const byDoc = new Map<string, string>()
    for (const c of this.clients) {
      const sv = Buffer.from(Y.encodeStateVector(c.doc)).toString('base64')
      const seen = byDoc.get(c.docName)
      if (seen === undefined) byDoc.set(c.docName, sv)
      else if (seen !== sv) return false
    }
    return (await this.differences()).length === 0
  }

  private nodeIds(endpoint: Endpoint): string[] {
    const workspace = typeof endpoint === 'string' ? this.workspaces.find((w) => w.id === endpoint) : undefined
    if (workspace !== undefined) return [workspace.id]
    const { relays, clients } = this.resolve(endpoint)
    return [...new Set([...relays.map((r) => r.id), ...clients.map((c) => (c as SimClient).node)])]
  }

  private assertOpen(): void {
    if (this.closed) throw new KitError('ERR_CLUSTER_CLOSED', 'the cluster is closed')
  }
}

/** Builds and starts a memory-mode cluster (see createCluster). */
export async function createMemoryCluster(options: MemoryClusterOptions = {}): Promise<MemoryCluster> {
  const seed = options.seed ?? randomSeed()
  const cluster = new MemoryCluster(options, seed)
  cluster.defineRelays()
  for (const r of cluster.relays) await cluster.startRelay(r)
  const specs: readonly ClientSpec[] = typeof options.clients === 'number' ? Array.from({ length: options.clients }, () => ({})) : options.clients ?? []
  for (const spec of specs) await cluster.addClient(spec)
  return cluster
}
