import { RelayError } from '../errors.js'
import type { DialSocket } from '../transport.js'

export interface MeshOptions {
  /** Shared by every relay of the cluster; links without it are refused. Required. */
  clusterSecret: string
  /** Seed URLs (`ws://host:port` of other relays). One is enough: the rest is learned by gossip. */
  peers?: readonly string[]
  /** The URL other relays dial to reach this one. Default: the address it listens on. */
  advertiseUrl?: string
  /** How often each link is pinged and membership gossiped. */
  heartbeatIntervalMs?: number
  /** No direct contact for this long: the member is suspect and its link is dropped and redialed. */
  suspectAfterMs?: number
  /** No direct contact for this long: the member is down. */
  downAfterMs?: number
  /** How often an anti-entropy round runs with each linked relay. */
  antiEntropyIntervalMs?: number
  /** An anti-entropy round not finished after this long is abandoned. */
  antiEntropyRoundTimeoutMs?: number
  /** Largest chunk of a document diff on a link. */
  chunkBytes?: number
  /** A link whose send buffer passes this is closed (the peer catches up by anti-entropy). */
  maxLinkBufferedBytes?: number
  /** A link whose peer has not proven the cluster secret after this long is closed. */
  handshakeTimeoutMs?: number
  /** Accepted links still in their handshake, at most; further upgrades get 503 (bounds what unauthenticated sockets hold). */
  maxPendingHandshakes?: number
  /** Most members (this relay included) kept from gossip and storage; bounds memory and region labels. */
  maxMembers?: number
  /** Redial backoff bounds. */
  redialInitialDelayMs?: number
  redialMaxDelayMs?: number
  /** Increases on every start; default the start time in ms. */
  incarnation?: number
  /**
   * The relays of this region share storage and a bus (set by the relay when it
   * has a bus): they are not linked to each other by the mesh, and a change one
   * of them accepted reaches the others through the bus, not by a push.
   */
  regionShared?: boolean
  /** Opens a link to another relay; default a `ws` WebSocket. Tests pass a simulated network's. */
  dial?: DialSocket
  /**
   * Fresh handshake challenges (32 bytes each); default `crypto.randomBytes`.
   * Only a simulated network passes a seeded one, so its runs replay byte for
   * byte: predictable challenges would make handshake answers replayable.
   */
  nonce?: () => Uint8Array
}

export type ResolvedMeshOptions = Required<Omit<MeshOptions, 'advertiseUrl' | 'dial' | 'nonce'>> & Pick<MeshOptions, 'advertiseUrl' | 'dial' | 'nonce'>

export const DEFAULT_MESH_OPTIONS = {
  peers: [] as readonly string[],
  heartbeatIntervalMs: 1_000,
  suspectAfterMs: 3_000,
  downAfterMs: 10_000,
  // The client's bound is (time since the relay's last status) + (relay's staleness, ~this interval): with
  // the 1 s status interval, 250 ms keeps a healthy mesh's p99 under 1.5 s (mesh bench "bound"; an idle round is ~40 bytes each way).
  antiEntropyIntervalMs: 250,
  antiEntropyRoundTimeoutMs: 30_000,
  chunkBytes: 256 * 1024,
  maxLinkBufferedBytes: 64 * 1024 * 1024,
  handshakeTimeoutMs: 5_000,
  maxPendingHandshakes: 32,
  maxMembers: 256,
  redialInitialDelayMs: 200,
  redialMaxDelayMs: 10_000,
  regionShared: false
} as const

/** `nowMs`: the default incarnation (the start time). */
export function resolveMeshOptions(o: MeshOptions, nowMs: number = Date.now()): ResolvedMeshOptions {
  if (typeof o.clusterSecret !== 'string' || o.clusterSecret.length < 16) {
    throw new RelayError('ERR_RELAY_OPTIONS', 'mesh.clusterSecret must be a string of at least 16 characters')
  }
  const r: ResolvedMeshOptions = {
    ...DEFAULT_MESH_OPTIONS,
    // Whole milliseconds: a skewed clock (the testing kit's) may read fractions, and the wire takes integers.
    incarnation: Math.floor(nowMs),
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
    clusterSecret: o.clusterSecret
  } as ResolvedMeshOptions
  for (const url of [...r.peers, ...(r.advertiseUrl !== undefined ? [r.advertiseUrl] : [])]) {
    if (!/^wss?:\/\/[^/]+/.test(url)) throw new RelayError('ERR_RELAY_OPTIONS', `mesh URL must be ws:// or wss://, got ${url}`)
  }
  for (const k of ['heartbeatIntervalMs', 'suspectAfterMs', 'downAfterMs', 'antiEntropyIntervalMs', 'antiEntropyRoundTimeoutMs', 'chunkBytes', 'maxLinkBufferedBytes', 'handshakeTimeoutMs', 'maxPendingHandshakes', 'maxMembers', 'redialInitialDelayMs', 'redialMaxDelayMs'] as const) {
    const v = r[k]
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RelayError('ERR_RELAY_OPTIONS', `mesh.${k} must be a positive number`)
  }
  if (!(r.suspectAfterMs > r.heartbeatIntervalMs && r.downAfterMs >= r.suspectAfterMs)) {
    throw new RelayError('ERR_RELAY_OPTIONS', 'mesh timeouts must satisfy heartbeatIntervalMs < suspectAfterMs <= downAfterMs')
  }
  return r
}
