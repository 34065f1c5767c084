import { defineErrors } from '@meridian/base'
import type { ProcessCluster, ProcessClusterRelay } from '@meridian/testing'
import type { Cut, DemoState, RegionView } from './api-types.js'
import { readClusterStatus } from './cluster-view.js'

/** A refused control action; `code` picks the HTTP status. */
export const ControlError = defineErrors('ControlError', {
  ERR_BAD_REQUEST: 'bad request',
  ERR_NOT_FOUND: 'no such region or link',
  ERR_RELAY_STATE: 'the relay is not in a state that allows this'
})
export type ControlError = InstanceType<typeof ControlError>

export interface RegionsControlOptions {
  cluster: ProcessCluster
  docName: string
  /** Bound on each `/v1/cluster` read. */
  readTimeoutMs: number
}

/**
 * What the page's buttons do, on a process-mode cluster with one relay per
 * region: cut a link one way or both ways, heal it, kill -9 a relay and start
 * it again on the same port and data dir. Actions run one at a time (a restart
 * takes a while; a second click must not interleave with it).
 */
export class RegionsControl {
  private readonly cuts = new Map<string, Cut>()
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly o: RegionsControlOptions) {}

  get regions(): string[] {
    return this.o.cluster.relays.map((r) => r.region)
  }

  /** Drops traffic from `from` to `to`; with `both`, the other way too. */
  cut(from: string, to: string, both: boolean): Promise<void> {
    return this.serial(() => {
      this.assertPair(from, to)
      // The kit's oneWay partition(a, b) drops b → a.
      if (both) this.o.cluster.partition(from, to)
      else this.o.cluster.partition(to, from, { oneWay: true })
      this.cuts.set(`${from}>${to}`, { from, to })
      if (both) this.cuts.set(`${to}>${from}`, { from: to, to: from })
    })
  }

  /** Heals the link between `a` and `b` (both directions), or every link. */
  heal(a?: string, b?: string): Promise<void> {
    return this.serial(() => {
      if (a === undefined && b === undefined) {
        this.o.cluster.heal()
        this.cuts.clear()
        return
      }
      if (a === undefined || b === undefined) throw new ControlError('ERR_BAD_REQUEST', 'heal takes two regions, or none for everything')
      this.assertPair(a, b)
      this.o.cluster.heal(a, b)
      this.cuts.delete(`${a}>${b}`)
      this.cuts.delete(`${b}>${a}`)
    })
  }

  kill(region: string): Promise<void> {
    return this.serial(async () => {
      const relay = this.relayOf(region)
      if (!relay.running) throw new ControlError('ERR_RELAY_STATE', `the relay of ${region} is not running`)
      await this.o.cluster.crash(region)
    })
  }

  restart(region: string): Promise<void> {
    return this.serial(async () => {
      const relay = this.relayOf(region)
      if (relay.running) throw new ControlError('ERR_RELAY_STATE', `the relay of ${region} is running: kill it first`)
      await this.o.cluster.restart(region)
    })
  }

  /** Reads every running relay's `/v1/cluster`, in parallel, each bounded. */
  async state(): Promise<DemoState> {
    const regions = await Promise.all(this.o.cluster.relays.map((r) => this.regionView(r)))
    return { docName: this.o.docName, regions, cuts: [...this.cuts.values()], readAtMs: Date.now() }
  }

  /** Resolves once every queued action has finished (for shutdown). */
  async idle(): Promise<void> {
    await this.queue.catch(() => undefined)
  }

  private async regionView(r: ProcessClusterRelay): Promise<RegionView> {
    const base = { region: r.region, relayId: r.id, wsUrl: r.url, running: r.running }
    if (!r.running) return { ...base, mesh: null, error: 'killed' }
    try {
      const res = await fetch(`http://127.0.0.1:${r.port}/v1/cluster`, { signal: AbortSignal.timeout(this.o.readTimeoutMs) })
      if (!res.ok) return { ...base, mesh: null, error: `/v1/cluster answered ${res.status}` }
      return { ...base, mesh: readClusterStatus(await res.json()), error: null }
    } catch (err) {
      return { ...base, mesh: null, error: err instanceof Error ? err.message : String(err) }
    }
  }

  private relayOf(region: string): ProcessClusterRelay {
    const relay = this.o.cluster.relays.find((r) => r.region === region)
    if (relay === undefined) throw new ControlError('ERR_NOT_FOUND', `no region '${region}' (regions: ${this.regions.join(', ')})`)
    return relay
  }

  private assertPair(a: string, b: string): void {
    this.relayOf(a)
    this.relayOf(b)
    if (a === b) throw new ControlError('ERR_BAD_REQUEST', 'a link joins two different regions')
  }

  private serial(action: () => void | Promise<void>): Promise<void> {
    const run = this.queue.catch(() => undefined).then(action)
    this.queue = run
    return run
  }
}
