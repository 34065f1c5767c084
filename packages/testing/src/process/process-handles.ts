/** The relays and clients of a process cluster, as the cluster keeps them and as tests see them. */
import type { ClusterClient, ClusterRelay } from '../cluster-types.js'
import type { FaultProxy } from '../fault-proxy.js'
import type { RelayProcess } from './relay-process.js'

/** A relay process of the cluster. `url` is the relay itself; other relays dial `proxy`. */
export interface ProcessClusterRelay extends ClusterRelay {
  readonly index: number
  readonly port: number
  /** Its SQLite data dir (removed on close). */
  readonly dataDir: string
  /** The fault proxy in front of it: what it advertises, so every relay-to-relay link dialed to it passes here. */
  readonly proxy: FaultProxy
  /** The running process, or null after `crash`. */
  readonly process: RelayProcess | null
}

/** A client of the cluster: it dials each relay of its failover list through a fault proxy of its own. */
export interface ProcessClusterClient extends ClusterClient {
  /** Its relay first, then the other relays of that region (the provider's failover order). */
  readonly relays: readonly ProcessClusterRelay[]
  /** Relay id → the proxy this client dials that relay through. */
  readonly links: ReadonlyMap<string, FaultProxy>
  /** Every provider `error` event as `CODE: message`. */
  readonly errors: string[]
}

export class RelayHandle implements ProcessClusterRelay {
  process: RelayProcess | null = null
  constructor(readonly id: string, readonly region: string, readonly index: number, readonly port: number, readonly dataDir: string, readonly proxy: FaultProxy) {}
  get url(): string {
    return `ws://127.0.0.1:${this.port}`
  }
  get running(): boolean {
    return this.process?.running === true
  }
}

export interface ClientHandle extends ProcessClusterClient {
  readonly relays: RelayHandle[]
  readonly links: Map<string, FaultProxy>
}
