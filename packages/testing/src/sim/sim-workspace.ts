/**
 * A multiplexed client in memory mode: one `MeridianClient` (one socket to
 * the relay, failover to the others of its region) with several documents
 * open over it. Each document is also a cluster client (`<workspace>/<doc>`),
 * so settle, expectConverged and expectNoLostWrites check it like any other;
 * they share one network node (the workspace's id), so a partition of the
 * workspace cuts all of them at once.
 */
import * as Y from 'yjs'
import { type MeridianProvider } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { MeridianClient } from '@meridian/client/multiplex'
import type { WebSocketConstructor } from '@meridian/client'
import { FULL_SDK } from '../full-sdk.js'
import { createPrng, deriveSeed } from '../prng.js'
import type { ClusterClient, ClusterRelay, WorkspaceSpec } from '../cluster-types.js'
import type { Scheduler, ClockSkew } from './scheduler.js'
import type { SimNetwork } from './network.js'

/** One document of a workspace, as a cluster client. */
export class SimClient implements ClusterClient {
  readonly errors: string[] = []
  constructor(
    readonly id: string,
    readonly docName: string,
    readonly doc: Y.Doc,
    readonly provider: MeridianProvider,
    readonly relay: ClusterRelay,
    /** The network node its frames travel from: its own id, or its workspace's. */
    readonly node: string = id
  ) {}
}

/** What a workspace needs of the memory cluster. */
export interface WorkspaceHost {
  readonly seed: number
  readonly scheduler: Scheduler
  readonly network: SimNetwork
  skewOf(nodeId: string): ClockSkew
}

/** A multiplexed client of a memory cluster. */
export class SimWorkspace {
  readonly client: MeridianClient
  readonly docs: SimClient[] = []
  readonly errors: string[] = []

  constructor(
    private readonly host: WorkspaceHost,
    readonly id: string,
    readonly relay: ClusterRelay,
    urls: readonly string[],
    spec: WorkspaceSpec
  ) {
    const network = host.network
    const SimWebSocket = function (this: unknown, url: string) {
      return network.browserSocket(id, url)
    } as unknown as WebSocketConstructor
    network.addNode(id, 'client', null)
    this.client = new MeridianClient({
      urls,
      WebSocket: SimWebSocket,
      backoff: { initialDelayMs: 100, maxDelayMs: 2_000, stableAfterMs: 1_000 },
      store: () => new MemoryClientStore(),
      provider: { policyEngine: FULL_SDK.policyEngine, deleteDigest: FULL_SDK.deleteDigest, ...spec.options },
      clock: host.scheduler.clockFor(id, host.skewOf(id)),
      random: createPrng(deriveSeed(host.seed, `backoff-${id}`))
    })
    this.client.on('error', (e) => this.errors.push(`${e.code}: ${e.message}`))
  }

  /** Opens `docName` over the workspace's connection; the document is a cluster client `<id>/<docName>`. */
  open(docName: string): SimClient {
    const id = `${this.id}/${docName}`
    const doc = new Y.Doc()
    // Seeded client ids: Yjs would pick random ones, and they order concurrent inserts.
    doc.clientID = deriveSeed(this.host.seed, `client-${id}`) >>> 1
    const provider = this.client.open(docName, { doc })
    const client = new SimClient(id, docName, doc, provider, this.relay, this.id)
    provider.on('error', (e) => client.errors.push(`${e.code}: ${e.message}`))
    this.docs.push(client)
    return client
  }
}
