import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { MeridianProvider } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { FULL_SDK } from '../full-sdk.js'
import { KitError, levelRank } from '../assertions.js'
import { ClusterBase } from '../cluster-base.js'
import type { ClientSpec, ClusterClient, ClusterRelay, ClusterReport, Endpoint, PartitionOptions, SettleOptions, SettleReport, TrafficReport } from '../cluster-types.js'
import { startFaultProxy, type FaultProxy } from '../fault-proxy.js'
import { healPair, partitionPair } from '../partition-plan.js'
import { freePort } from '../ports.js'
import { deriveSeed, randomSeed } from '../prng.js'
import { relayView } from '../raw-client.js'
import { NodeWebSocket, TEST_BACKOFF } from '../real/test-client.js'
import { sleep, waitUntil, withTimeout } from '../wait.js'
import { extraRelayArgs, meshTimingArgs, resolveProcessOptions, type ProcessClusterOptions, type ResolvedProcessOptions } from './process-options.js'
import { startRelayProcess } from './relay-process.js'
import { diffTraffic, proxyTraffic } from './traffic.js'
import { RelayHandle, type ClientHandle, type ProcessClusterClient, type ProcessClusterRelay } from './process-handles.js'

export type { ProcessClusterRelay, ProcessClusterClient } from './process-handles.js'

/**
 * Process mode: real `meridian-relay` processes on loopback, each behind a
 * fault proxy, and clients in this process, each behind proxies of its own.
 * Real time; deterministic edits and client ids for a seed, not timing.
 */
export class ProcessCluster extends ClusterBase {
  readonly mode = 'process' as const
  private readonly relayHandles: RelayHandle[] = []
  private readonly clientHandles: ClientHandle[] = []
  /** Client links with a partition rule: healing them also resets them (see `heal`). */
  private readonly cutClientLinks = new Set<FaultProxy>()
  private readonly secret = randomBytes(16).toString('hex')
  private readonly startedAt = Date.now()
  private lastSettleMs: number | null = null
  private nextClient = 0
  private closed = false

  private constructor(private readonly options: ProcessClusterOptions, private readonly o: ResolvedProcessOptions) {
    super(o.seed)
  }

  get relays(): readonly ProcessClusterRelay[] {
    return this.relayHandles
  }
  get clients(): readonly ProcessClusterClient[] {
    return this.clientHandles
  }
  override relay(id: string): ProcessClusterRelay {
    return super.relay(id) as ProcessClusterRelay
  }
  override client(id: string): ProcessClusterClient {
    return super.client(id) as ProcessClusterClient
  }
  /** Relay id → the proxy in front of that relay (for `partitionPair` and friends). */
  get relayProxies(): ReadonlyMap<string, FaultProxy> {
    return new Map(this.relayHandles.map((r) => [r.id, r.proxy]))
  }

  static async start(options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    const seed = options.seed ?? randomSeed()
    const cluster = new ProcessCluster(options, resolveProcessOptions(options, seed))
    try {
      await cluster.startRelays()
      const specs = typeof options.clients === 'number' ? Array.from({ length: options.clients }, (): ClientSpec => ({})) : options.clients ?? []
      const clients: ClusterClient[] = []
      for (const spec of specs) clients.push(await cluster.addClient(spec))
      const within = cluster.o.startTimeoutMs
      await Promise.all(clients.map((c) => c.provider.whenSynced({ timeoutMs: within }).catch(() => {
        throw new KitError('ERR_SETTLE_TIMEOUT', `client ${c.id} did not sync with ${c.relay.id} within ${within} ms`, seed)
      })))
      return cluster
    } catch (err) {
      await cluster.close()
      throw err
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-unused-private-class-members -- called from the static start()
  private async startRelays(): Promise<void> {
    for (const region of this.o.regions) {
      for (let index = 0; index < this.o.relaysPerRegion; index++) {
        const id = `${region}-${index + 1}`
        const port = await freePort()
        const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port }, name: id })
        this.relayHandles.push(new RelayHandle(id, region, index, port, mkdtempSync(join(tmpdir(), `meridian-${id}-`)), proxy))
      }
    }
    await Promise.all(this.relayHandles.map((r) => this.launch(r)))
    if (this.o.waitForMesh && this.relayHandles.length > 1) {
      const others = this.relayHandles.length - 1
      for (const r of this.relayHandles) {
        await waitUntil(async () => (await this.relayJson<{ members: { linked: boolean }[] }>(r, '/v1/cluster')).members.filter((m) => m.linked).length >= others,
          `relay ${r.id} to link to the ${others} others (seed ${this.seed})`, this.o.startTimeoutMs, 50)
      }
    }
  }

  private async launch(r: RelayHandle): Promise<void> {
    const first = this.relayHandles[0] as RelayHandle
    const args = [
      '--port', String(r.port), '--data-dir', r.dataDir, '--region', r.region, '--node-id', r.id,
      '--cluster-secret', this.secret, '--advertise-url', r.proxy.url,
      // One seed is enough: the rest of the membership is gossip.
      ...(r === first ? [] : ['--peer', first.proxy.url]),
      ...meshTimingArgs(this.o.timing),
      ...(this.options.adminToken !== undefined ? ['--admin-token', this.options.adminToken] : []),
      ...extraRelayArgs(this.options, { id: r.id, region: r.region, index: r.index })
    ]
    r.process = await startRelayProcess(args, {
      timeoutMs: this.o.startTimeoutMs,
      logLevel: this.o.relayLogLevel,
      ...(this.options.relayMain !== undefined ? { relayMain: this.options.relayMain } : {}),
      ...(this.options.relayEnv !== undefined ? { env: this.options.relayEnv } : {})
    })
  }

  async addClient(spec: ClientSpec = {}): Promise<ProcessClusterClient> {
    this.assertOpen()
    const id = spec.id ?? `c${++this.nextClient}`
    if (this.clientHandles.some((c) => c.id === id)) throw new KitError('ERR_CLUSTER_OPTIONS', `client id '${id}' is taken`, this.seed)
    const home = spec.relay !== undefined ? this.handle(this.oneRelay(spec.relay))
      : spec.region !== undefined ? this.regionRelays(spec.region)[0] as RelayHandle
        : this.relayHandles[this.clientHandles.length % this.relayHandles.length] as RelayHandle
    const siblings = this.regionRelays(home.region)
    const at = siblings.indexOf(home)
    const relays = [...siblings.slice(at), ...siblings.slice(0, at)]
    const links = new Map<string, FaultProxy>()
    for (const r of relays) links.set(r.id, await startFaultProxy({ target: { host: '127.0.0.1', port: r.port }, name: `${id}->${r.id}` }))
    const doc = new Y.Doc()
    // Seeded client ids: the same seed makes the same updates, so a replay shows the same diff.
    doc.clientID = deriveSeed(this.seed, `client-id:${id}`) || 1
    const provider = new MeridianProvider({
      // The whole SDK: the policy engine and the delete-set digest (optional entries of @meridian/client).
      ...FULL_SDK,
      WebSocket: NodeWebSocket,
      store: new MemoryClientStore(),
      crossTab: false,
      backoff: TEST_BACKOFF,
      connectTimeoutMs: 2_000,
      ...this.options.clientOptions,
      ...spec.options,
      doc,
      docName: spec.docName ?? this.o.docName,
      urls: relays.map((r) => (links.get(r.id) as FaultProxy).url)
    })
    const errors: string[] = []
    provider.on('error', (e) => errors.push(`${e.code}: ${e.message}`))
    const client: ClientHandle = { id, docName: provider.docName, doc, provider, relay: home, relays, links, errors }
    this.clientHandles.push(client)
    await provider.whenLoaded
    return client
  }

  /**
   * Relay/relay: both proxies of each pair (`partitionPair`). Client/relay:
   * the client's own proxy to that relay. A client link keeps its sockets
   * open, silently, like a real partition.
   */
  partition(a: Endpoint, b: Endpoint, options: PartitionOptions = {}): void {
    this.assertOpen()
    const A = this.resolve(a)
    const B = this.resolve(b)
    if (A.relays.length === 0 && B.relays.length === 0) {
      throw new KitError('ERR_UNKNOWN_ENDPOINT', 'clients are not linked to each other: partition a client from relays instead', this.seed)
    }
    const proxies = this.relayProxies
    for (const ra of A.relays) for (const rb of B.relays) if (ra !== rb) partitionPair(proxies, ra.id, rb.id, options)
    // `oneWay` cuts b → a: relay → client is 'from-target' on the client's proxy, client → relay 'to-target'.
    for (const c of A.clients) for (const r of B.relays) this.cutClientLink(c, r, options.oneWay === true ? 'from-target' : 'both')
    for (const r of A.relays) for (const c of B.clients) this.cutClientLink(c, r, options.oneWay === true ? 'to-target' : 'both')
  }

  /**
   * Removes partitions between `a` and `b`, everything `a` is cut from, or
   * everything. A healed client link is also reset: the proxy dropped bytes
   * for good, and the client's protocol (unlike the mesh's) relies on TCP
   * never losing any, so it reconnects and syncs afresh.
   */
  heal(a?: Endpoint, b?: Endpoint): void {
    this.assertOpen()
    if (a === undefined) {
      for (const r of this.relayHandles) r.proxy.heal()
      for (const c of this.clientHandles) for (const p of c.links.values()) this.healClientLink(p)
      return
    }
    const A = this.resolve(a)
    const B = b === undefined ? null : this.resolve(b)
    const proxies = this.relayProxies
    for (const ra of A.relays) {
      for (const rb of B === null ? this.relayHandles : B.relays) if (ra !== rb) healPair(proxies, ra.id, rb.id)
      for (const c of B === null ? this.clientHandles : B.clients) this.healClientLinkTo(c, ra)
    }
    for (const c of A.clients) for (const r of B === null ? this.relayHandles : B.relays) this.healClientLinkTo(c, r)
  }

  /** Adds `ms` of latency to each chunk on the links of a relay (links other relays dialed to it) or of a client. 0 removes it. */
  setLatency(endpoint: Endpoint, ms: number): void {
    const { relays, clients } = this.resolve(endpoint)
    for (const r of relays) this.handle(r).proxy.setLatency(ms)
    for (const c of clients) for (const p of this.clientOf(c).links.values()) p.setLatency(ms)
  }

  /** Resets (RST) the links other relays dialed to a relay, or every link of a client: they reconnect. */
  resetConnections(endpoint: Endpoint): void {
    const { relays, clients } = this.resolve(endpoint)
    for (const r of relays) this.handle(r).proxy.resetConnections()
    for (const c of clients) for (const p of this.clientOf(c).links.values()) p.resetConnections()
  }

  /** kill -9. What the relay had acknowledged is in its data dir; the rest is gone. */
  async crash(endpoint: Endpoint): Promise<void> {
    this.assertOpen()
    for (const r of this.relaysOf(endpoint)) {
      const p = r.process
      if (p === null) continue
      await withTimeout(p.kill('SIGKILL'), 5_000, null)
      r.process = null
    }
  }

  /** Starts a crashed relay again on the same port and data dir. */
  async restart(endpoint: Endpoint): Promise<void> {
    this.assertOpen()
    for (const r of this.relaysOf(endpoint)) {
      if (r.running) throw new KitError('ERR_CLUSTER_OPTIONS', `relay ${r.id} is running: crash it before restarting it`, this.seed)
      await this.launch(r)
    }
  }

  now(): number {
    return Date.now()
  }

  async step(): Promise<boolean> {
    await sleep(10)
    return true
  }

  async run(ms: number): Promise<void> {
    await sleep(ms)
  }

  /**
   * Polls until no client has a write below `relay` durability and every
   * replica of every document agrees. Relays are read only once the clients
   * agree among themselves, at most every 200 ms (each read is a connection).
   */
  async settle(options: SettleOptions = {}): Promise<SettleReport> {
    this.assertOpen()
    const timeoutMs = options.timeoutMs ?? 30_000
    const started = Date.now()
    const before = this.traffic()
    let lastFull = 0
    let why = ['nothing checked yet']
    while (Date.now() - started <= timeoutMs) {
      why = this.clientLag()
      if (why.length === 0 && Date.now() - lastFull >= 200) {
        lastFull = Date.now()
        try {
          why = await this.differences()
        } catch (err) {
          why = [`reading a relay failed: ${(err as Error).message}`]
        }
        if (why.length === 0) {
          this.lastSettleMs = Date.now() - started
          return { ...diffTraffic(this.traffic(), before), elapsedMs: this.lastSettleMs }
        }
      }
      await sleep(50)
    }
    throw new KitError('ERR_SETTLE_TIMEOUT', `not settled after ${timeoutMs} ms:\n${why.slice(0, 60).join('\n')}`, this.seed)
  }

  /** What keeps the clients from having settled: unacknowledged writes, or clients of a document that disagree. */
  private clientLag(): string[] {
    const lines: string[] = []
    for (const c of this.clientHandles) {
      const level = c.provider.durabilityOf('all')
      if (levelRank(level) < levelRank('relay')) lines.push(`client ${c.id}: ${c.provider.pendingCount} writes not acknowledged (${c.provider.status})`)
    }
    if (lines.length > 0) return lines
    for (const name of this.docNames()) {
      const docs = this.clientHandles.filter((c) => c.docName === name)
      const sv = Buffer.from(Y.encodeStateVector((docs[0] as ClientHandle).doc)).toString('hex')
      const behind = docs.filter((c) => Buffer.from(Y.encodeStateVector(c.doc)).toString('hex') !== sv)
      if (behind.length > 0) lines.push(`document '${name}': clients ${behind.map((c) => c.id).join(', ')} differ from ${(docs[0] as ClientHandle).id}`)
    }
    return lines
  }

  protected relayDoc(relay: ClusterRelay, docName: string): Promise<Y.Doc> {
    const params = this.options.clientOptions?.params
    return relayView(this.handle(relay).url, docName, params !== undefined ? { query: { ...params } } : {})
  }

  /** GET a relay's HTTP endpoint (`/v1/cluster`, `/v1/status`, `/readyz`) as JSON, directly (not through its proxy). */
  async relayJson<T>(relay: Endpoint, path: string): Promise<T> {
    const r = this.handle(this.oneRelay(relay))
    const token = this.options.adminToken
    const res = await fetch(`http://127.0.0.1:${r.port}${path}`, {
      signal: AbortSignal.timeout(5_000),
      ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {})
    })
    // E.g. 401 with auth on and no `adminToken`: say so rather than fail later on a missing field.
    if (!res.ok) throw new KitError('ERR_RELAY_HTTP', `GET ${path} on relay ${r.id}: HTTP ${res.status} ${await res.text()}`, this.seed)
    return (await res.json()) as T
  }

  /** Bytes seen by the proxies since the start (messages are not counted in process mode). */
  traffic(): TrafficReport {
    return proxyTraffic(this.relayHandles.map((r) => r.proxy), this.clientHandles.flatMap((c) => [...c.links.values()]))
  }

  report(): ClusterReport {
    return { ...this.traffic(), seed: this.seed, mode: 'process', elapsedMs: Date.now() - this.startedAt, lastSettleMs: this.lastSettleMs }
  }

  /** Kills every relay, closes every proxy and provider, removes the data dirs. Bounded; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all(this.clientHandles.map(async (c) => {
      await withTimeout(c.provider.destroy().catch(() => undefined), 5_000, undefined)
      await Promise.all([...c.links.values()].map((p) => withTimeout(p.close(), 5_000, undefined)))
    }))
    await Promise.all(this.relayHandles.map(async (r) => {
      if (r.process !== null) await withTimeout(r.process.kill('SIGKILL'), 5_000, null)
      r.process = null
      await withTimeout(r.proxy.close(), 5_000, undefined)
      rmSync(r.dataDir, { recursive: true, force: true })
    }))
  }

  private cutClientLink(c: ClusterClient, r: ClusterRelay, direction: 'both' | 'to-target' | 'from-target'): void {
    const proxy = this.clientOf(c).links.get(r.id)
    if (proxy === undefined) return // not in this client's failover list: no link to cut
    proxy.partition('*', direction)
    this.cutClientLinks.add(proxy)
  }

  private healClientLinkTo(c: ClusterClient, r: ClusterRelay): void {
    const proxy = this.clientOf(c).links.get(r.id)
    if (proxy !== undefined) this.healClientLink(proxy)
  }

  private healClientLink(proxy: FaultProxy): void {
    if (!this.cutClientLinks.delete(proxy)) return
    proxy.heal()
    proxy.resetConnections()
  }

  private relaysOf(endpoint: Endpoint): RelayHandle[] {
    const { relays, clients } = this.resolve(endpoint)
    if (clients.length > 0) throw new KitError('ERR_UNKNOWN_ENDPOINT', 'expected a relay or a region, got a client', this.seed)
    return relays.map((r) => this.handle(r))
  }

  private regionRelays(region: string): RelayHandle[] {
    const relays = this.relayHandles.filter((r) => r.region === region)
    if (relays.length === 0) throw new KitError('ERR_UNKNOWN_ENDPOINT', `no region '${region}' (regions: ${this.o.regions.join(', ')})`, this.seed)
    return relays
  }

  private handle(relay: ClusterRelay): RelayHandle {
    return relay as RelayHandle
  }

  private clientOf(client: ClusterClient): ClientHandle {
    return client as ClientHandle
  }

  private assertOpen(): void {
    if (this.closed) throw new KitError('ERR_CLUSTER_CLOSED', 'the cluster is closed', this.seed)
  }
}

/** Starts real relay processes (the `meridian-relay` CLI) behind fault proxies, and the clients. Close it in `afterEach`. */
export function startProcessCluster(options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
  return ProcessCluster.start(options)
}
