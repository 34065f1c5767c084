/**
 * The mesh's links to other relays, from the socket to the close: adopting a
 * dialed or accepted socket as a link (its handshake: link.ts), the bound on
 * handshakes pending, one open link per remote relay (a duplicate pair keeps
 * the link the smaller node id dialed, on both sides alike), and the handshakes
 * refused, by reason. What a link carries once up is the mesh's (mesh.ts).
 */
import type { Logger } from 'pino'
import type { Clock } from '@meridian/base'
import { MESH_CLOSE_CODES, type MeshMember, type MeshMessage } from '@meridian/protocol'
import type { RelaySocket } from '../transport.js'
import { MeshLink } from './link.js'
import type { MeshStatus } from './mesh-status.js'
import type { ResolvedMeshOptions } from './options.js'

export interface MeshLinksDeps {
  readonly options: ResolvedMeshOptions
  readonly log: Logger
  readonly clock: Clock
  readonly maxMessageBytes: number
  /** This relay as the mesh knows it; null until the mesh started (links are then refused). */
  self(): MeshMember | null
  /** The mesh stopped: links are refused. */
  stopped(): boolean
  /** A dialed URL turned out to be that node (the dialer's bookkeeping). */
  dialedUrlIs(url: string, nodeId: string): void
  /** A link's handshake completed and it is the open link to `remote`. */
  up(link: MeshLink, remote: MeshMember): void
  message(link: MeshLink, m: MeshMessage): void
  /** A link closed (pending or open). */
  closed(link: MeshLink): void
}

export class MeshLinks {
  /** The open link to each remote relay, by node id. */
  readonly open = new Map<string, MeshLink>()
  /** Links whose handshake has not completed. */
  private readonly pending = new Set<MeshLink>()
  /** Link handshakes refused since start, by reason. */
  readonly refused: MeshStatus['refusedLinks'] = {}

  constructor(private readonly d: MeshLinksDeps) {}

  /** True (and counted) when accepting another socket would pass the bound on pending handshakes. */
  tooManyPending(): boolean {
    let accepted = 0
    for (const l of this.pending) if (l.direction === 'accepted') accepted++
    if (accepted < this.d.options.maxPendingHandshakes) return false
    this.refused['too-many-pending'] = (this.refused['too-many-pending'] ?? 0) + 1
    return true
  }

  adopt(socket: RelaySocket, direction: 'dialed' | 'accepted', url: string | null, expectedNodeId: string | null = null): MeshLink {
    const { options } = this.d
    const self = this.d.self()
    const link = new MeshLink({
      socket,
      direction,
      url,
      self: self as MeshMember,
      logger: this.d.log,
      maxMessageBytes: this.d.maxMessageBytes,
      maxBufferedBytes: options.maxLinkBufferedBytes,
      clock: this.d.clock,
      clusterSecret: options.clusterSecret,
      expectedNodeId,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
      handlers: {
        onHello: (l, remote) => this.onHello(l, remote),
        onHandshakeFailed: (_l, reason) => {
          this.refused[reason] = (this.refused[reason] ?? 0) + 1
        },
        onMessage: (l, m) => this.d.message(l, m),
        onClose: (l) => this.onClose(l)
      }
    })
    this.pending.add(link)
    if (this.d.stopped() || self === null) link.close(1001, 'not ready')
    return link
  }

  /** Closes every link, open or pending. */
  closeAll(code: number, reason: string): void {
    for (const link of [...this.open.values(), ...this.pending]) link.close(code, reason)
  }

  /** Per-link counters, keyed by the remote node id. */
  stats(): Record<string, MeshLink['stats']> {
    return Object.fromEntries([...this.open.entries()].map(([id, l]) => [id, l.stats]))
  }

  private onHello(link: MeshLink, remote: MeshMember): void {
    this.pending.delete(link)
    const self = this.d.self() as MeshMember
    if (remote.nodeId === self.nodeId) {
      if (link.url !== null) this.d.dialedUrlIs(link.url, self.nodeId)
      link.close(MESH_CLOSE_CODES.DUPLICATE_LINK, 'dialed itself')
      return
    }
    if (link.url !== null) this.d.dialedUrlIs(link.url, remote.nodeId)
    const existing = this.open.get(remote.nodeId)
    if (existing !== undefined && existing.isOpen) {
      // Two links for one pair: keep the one the smaller node id dialed, on both sides alike.
      const keepNew = (link.direction === 'dialed') === (self.nodeId < remote.nodeId)
      const loser = keepNew ? existing : link
      if (!keepNew) {
        link.close(MESH_CLOSE_CODES.DUPLICATE_LINK, 'duplicate link')
        return
      }
      this.open.set(remote.nodeId, link)
      loser.close(MESH_CLOSE_CODES.DUPLICATE_LINK, 'duplicate link')
    } else {
      this.open.set(remote.nodeId, link)
    }
    this.d.up(link, remote)
  }

  private onClose(link: MeshLink): void {
    this.pending.delete(link)
    this.d.closed(link)
    const id = link.remote?.nodeId
    if (id !== undefined && this.open.get(id) === link) {
      this.open.delete(id)
      this.d.log.info({ peer: id }, 'mesh link down')
    }
  }
}
