import { KitError, convergenceDiff, describeLevel, levelRank } from './assertions.js'
import * as Y from 'yjs'
import { deriveSeed } from './prng.js'
import { randomEditsOnDoc } from './random-edits.js'
import type {
  Cluster, ClusterClient, ClusterMode, ClusterRelay, ClusterReport, ClientSpec, Endpoint, NoLostWritesOptions,
  PartitionOptions, SettleOptions, SettleReport
} from './cluster-types.js'

interface RecordedWrite {
  client: ClusterClient
  /** The n-th write of this client, from 1 (names it in failures). */
  index: number
  update: Uint8Array
}

/**
 * What both modes share: naming, the write ledger and the assertions. A mode
 * supplies the network, the relays and how to read a relay's copy.
 */
export abstract class ClusterBase implements Cluster {
  abstract readonly mode: ClusterMode
  abstract readonly relays: readonly ClusterRelay[]
  abstract readonly clients: readonly ClusterClient[]
  protected readonly writes: RecordedWrite[] = []
  private readonly writeCounts = new Map<ClusterClient, number>()
  private editRounds = 0

  constructor(readonly seed: number) {}

  abstract addClient(spec?: ClientSpec): Promise<ClusterClient>
  abstract partition(a: Endpoint, b: Endpoint, options?: PartitionOptions): void
  abstract heal(a?: Endpoint, b?: Endpoint): void
  abstract crash(relay: Endpoint): Promise<void>
  abstract restart(relay: Endpoint): Promise<void>
  abstract step(): Promise<boolean>
  /** The cluster's clock: simulated in memory mode, the system's in process mode. */
  abstract now(): number
  abstract run(ms: number): Promise<void>
  abstract settle(options?: SettleOptions): Promise<SettleReport>
  abstract report(): ClusterReport
  abstract close(): Promise<void>
  /** A running relay's copy of a document (what it has committed and holds). */
  protected abstract relayDoc(relay: ClusterRelay, docName: string): Promise<Y.Doc>

  relay(id: string): ClusterRelay {
    const r = this.relays.find((x) => x.id === id)
    if (r === undefined) throw new KitError('ERR_UNKNOWN_ENDPOINT', `no relay '${id}' (relays: ${this.relays.map((x) => x.id).join(', ')})`)
    return r
  }

  client(id: string): ClusterClient {
    const c = this.clients.find((x) => x.id === id)
    if (c === undefined) throw new KitError('ERR_UNKNOWN_ENDPOINT', `no client '${id}'`)
    return c
  }

  /** Relays and clients an endpoint names (a region name means all its relays). */
  protected resolve(endpoint: Endpoint): { relays: ClusterRelay[]; clients: ClusterClient[] } {
    if (typeof endpoint !== 'string') {
      if (this.relays.includes(endpoint as ClusterRelay)) return { relays: [endpoint as ClusterRelay], clients: [] }
      if (this.clients.includes(endpoint as ClusterClient)) return { relays: [], clients: [endpoint as ClusterClient] }
      throw new KitError('ERR_UNKNOWN_ENDPOINT', 'not a relay or client of this cluster')
    }
    const relay = this.relays.find((r) => r.id === endpoint)
    if (relay !== undefined) return { relays: [relay], clients: [] }
    const client = this.clients.find((c) => c.id === endpoint)
    if (client !== undefined) return { relays: [], clients: [client] }
    const region = this.relays.filter((r) => r.region === endpoint)
    if (region.length > 0) return { relays: region, clients: [] }
    throw new KitError('ERR_UNKNOWN_ENDPOINT', `'${endpoint}' is no relay, client or region of this cluster`)
  }

  protected oneRelay(endpoint: Endpoint): ClusterRelay {
    const { relays, clients } = this.resolve(endpoint)
    if (relays.length !== 1 || clients.length > 0) throw new KitError('ERR_UNKNOWN_ENDPOINT', 'expected exactly one relay')
    return relays[0] as ClusterRelay
  }

  protected oneClient(endpoint: Endpoint): ClusterClient {
    const { clients } = this.resolve(endpoint)
    if (clients.length !== 1) throw new KitError('ERR_UNKNOWN_ENDPOINT', 'expected a client')
    return clients[0] as ClusterClient
  }

  async until(check: () => boolean | Promise<boolean>, what: string, options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 10_000
    const start = this.now()
    for (;;) {
      if (await check()) return
      if (this.now() - start > timeoutMs) throw new KitError('ERR_SETTLE_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`, this.seed)
      // Nothing scheduled (memory mode): let time pass instead of spinning.
      if (!(await this.step())) await this.run(10)
    }
  }

  async drive<T>(promise: Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
    let settled = false
    const watched = promise.finally(() => {
      settled = true
    })
    watched.catch(() => undefined)
    await this.until(() => settled, 'a promise to settle', options)
    return watched
  }

  randomEdits(endpoint: Endpoint, options: { seed?: number; ops: number }): Uint8Array[] {
    const client = this.oneClient(endpoint)
    const seed = options.seed ?? deriveSeed(this.seed, `edits-${client.id}-${this.editRounds++}`)
    const updates = randomEditsOnDoc(client.doc, { seed, ops: options.ops, tag: client.id })
    for (const u of updates) this.recordWrite(client, u)
    return updates
  }

  recordWrite(endpoint: Endpoint, update: Uint8Array): void {
    const client = this.oneClient(endpoint)
    const index = (this.writeCounts.get(client) ?? 0) + 1
    this.writeCounts.set(client, index)
    this.writes.push({ client, index, update })
  }

  async replicas(docName: string): Promise<{ name: string; doc: Y.Doc }[]> {
    const out: { name: string; doc: Y.Doc }[] = []
    for (const c of this.clients) if (c.docName === docName) out.push({ name: `client ${c.id}`, doc: c.doc })
    for (const r of this.relays) if (r.running) out.push({ name: `relay ${r.id}`, doc: await this.relayDoc(r, docName) })
    return out
  }

  protected docNames(): string[] {
    return [...new Set(this.clients.map((c) => c.docName))].sort()
  }

  /** Differences per document, empty when every replica of every document agrees. */
  async differences(docNames: readonly string[] = this.docNames()): Promise<string[]> {
    const lines: string[] = []
    for (const name of docNames) {
      const diff = convergenceDiff(await this.replicas(name))
      if (diff.length > 0) lines.push(`document '${name}':`, ...diff)
    }
    return lines
  }

  async expectConverged(targets?: readonly ClusterClient[] | readonly string[]): Promise<void> {
    let lines: string[]
    if (targets !== undefined && targets.length > 0 && typeof targets[0] !== 'string') {
      const clients = targets as readonly ClusterClient[]
      lines = convergenceDiff(clients.map((c) => ({ name: `client ${c.id}`, doc: c.doc })))
    } else {
      lines = await this.differences(targets as readonly string[] | undefined)
    }
    if (lines.length > 0) throw new KitError('ERR_NOT_CONVERGED', `replicas did not converge:\n${lines.join('\n')}`, this.seed)
  }

  async expectNoLostWrites(options: NoLostWritesOptions = {}): Promise<void> {
    const level = options.level ?? 'relay'
    const only = options.clients === undefined ? null : new Set(options.clients)
    // One snapshot per replica: computing it is the expensive part of each check.
    const replicas = new Map<string, { name: string; snapshot: Y.Snapshot }[]>()
    const missing: string[] = []
    let checked = 0
    for (const w of this.writes) {
      if (only !== null && !only.has(w.client)) continue
      if (levelRank(w.client.provider.durabilityOf(w.update)) < levelRank(level)) continue
      checked++
      let reps = replicas.get(w.client.docName)
      if (reps === undefined) {
        // Replicas with the same state vector and delete set contain the same writes: check one per group.
        const groups = new Map<string, { names: string[]; snapshot: Y.Snapshot }>()
        for (const r of await this.replicas(w.client.docName)) {
          const snapshot = Y.snapshot(r.doc)
          const key = Buffer.from(Y.encodeSnapshot(snapshot)).toString('base64')
          const g = groups.get(key)
          if (g === undefined) groups.set(key, { names: [r.name], snapshot })
          else g.names.push(r.name)
        }
        reps = [...groups.values()].map((g) => ({ name: g.names.join(', '), snapshot: g.snapshot }))
        replicas.set(w.client.docName, reps)
      }
      const lacking = reps.filter((r) => !Y.snapshotContainsUpdate(r.snapshot, w.update)).map((r) => r.name)
      if (lacking.length > 0) missing.push(`  write #${w.index} of client ${w.client.id} (${describeLevel(level)}) is missing from ${lacking.join(', ')}`)
    }
    if (missing.length > 0) {
      throw new KitError('ERR_LOST_WRITES', `${missing.length} of ${checked} ${describeLevel(level)} writes are missing:\n${missing.slice(0, 50).join('\n')}`, this.seed)
    }
  }
}
