import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Clock, ClockTimer } from '@meridian/base'
import type { RelaySocket } from '../transport.js'
import { MESH_CLOSE_CODES, type MeshMember, type MeshMessage } from '@meridian/protocol'
import type { StorageAdapter } from '@meridian/storage'
import type { Room, RoomChange } from '../room.js'
import type { RoomManager } from '../rooms.js'
import { AntiEntropy } from './anti-entropy.js'
import { DigestIndex, docDigest, tombstoneDigest } from './digest-index.js'
import type { DocTombstones } from '../docs/tombstones.js'
import type { MeshLink } from './link.js'
import { MeshLinks } from './mesh-links.js'
import { MeshDialer } from './dialer.js'
import { Membership, NODE_ID_PATTERN, REGION_NAME_PATTERN, isValidRegionName } from './membership.js'
import { RelayError } from '../errors.js'
import { MemberMemory } from './member-memory.js'
import { resolveMeshOptions, type MeshOptions, type ResolvedMeshOptions } from './options.js'
import { ReplicationTracker } from './replication.js'
import { MeshPush } from './mesh-push.js'
import { meshStatus, type MeshStatus } from './mesh-status.js'

export const MESH_PATH = '/_meridian/mesh'

export type { MeshStatus, RegionStatus } from './mesh-status.js'

interface Deps {
  rooms: RoomManager
  storage: StorageAdapter
  logger: Logger
  nodeId: string
  region: string
  maxMessageBytes: number
  /** The document size limit, applied to what the mesh applies as to client writes. */
  maxDocumentBytes: number
  clock: Clock
  /** Jitter for redial backoff. */
  random: () => number
  tombstones?: DocTombstones // deleted documents: a tombstone digest entry; a peer's tombstone deletes here too
}

/**
 * The relay's side of the multi-region mesh: links to other relays, gossip of
 * membership, push of every accepted update (once per region: to each relay of
 * its own region and to one relay of every other region, which fans out inside
 * its region), and pull-based anti-entropy that repairs whatever a push missed.
 * Loops cannot form: a relay forwards only what it received from another
 * region, only inside its own region, and only if the update changed its
 * document (a room emits no change for an update it already had).
 */
export class Mesh {
  readonly options: ResolvedMeshOptions
  private readonly d: Deps
  private readonly log: Logger
  private readonly digests = new DigestIndex()
  private readonly tracker = new ReplicationTracker()
  private readonly ae: AntiEntropy
  private membership: Membership | null = null
  private self: MeshMember | null = null
  private readonly links: MeshLinks
  private dialer: MeshDialer | null = null
  private readonly memory: MemberMemory
  private readonly lastExchange = new Map<string, number>()
  private readonly pushes: MeshPush
  private readonly unsubscribe: (() => void)[] = []
  private heartbeat: ClockTimer | null = null
  private aeTimer: ClockTimer | null = null
  private nonce = 0
  private ticks = 0
  private membersChanged = true
  private regionsCache: string[] | null = null
  private stopped = false

  constructor(deps: Deps, options: MeshOptions) {
    this.d = deps
    this.options = resolveMeshOptions(options, deps.clock.now())
    // Checked here, not only by peers: an identity other relays would refuse must fail at start, not link by link.
    if (!isValidRegionName(deps.region)) throw new RelayError('ERR_RELAY_OPTIONS', `region must match ${String(REGION_NAME_PATTERN)} in a mesh (it is a metric label), got ${JSON.stringify(deps.region)}`)
    if (!NODE_ID_PATTERN.test(deps.nodeId)) throw new RelayError('ERR_RELAY_OPTIONS', 'nodeId must be 1-128 printable ASCII characters (no spaces) in a mesh')
    this.log = deps.logger.child({ component: 'mesh' })
    this.links = new MeshLinks({
      options: this.options,
      log: this.log,
      clock: deps.clock,
      maxMessageBytes: deps.maxMessageBytes,
      self: () => this.self,
      stopped: () => this.stopped,
      dialedUrlIs: (url, nodeId) => this.dialer?.linked(url, nodeId),
      up: (link, remote) => this.onLinkUp(link, remote),
      message: (link, m) => this.onMessage(link, m),
      closed: (link) => this.onLinkClosed(link)
    })
    this.pushes = new MeshPush({
      rooms: deps.rooms,
      log: this.log,
      clock: deps.clock,
      region: deps.region,
      maxDocumentBytes: deps.maxDocumentBytes,
      regionShared: this.options.regionShared,
      tracker: this.tracker,
      links: this.links.open,
      isAlive: (nodeId) => this.membership?.get(nodeId)?.state === 'alive',
      foreignRegions: () => this.foreignRegions()
    })
    this.memory = new MemberMemory(deps.storage, deps.nodeId, this.log)
    this.ae = new AntiEntropy({
      rooms: deps.rooms,
      storage: deps.storage,
      digests: this.digests,
      tracker: this.tracker,
      logger: this.log,
      chunkBytes: this.options.chunkBytes,
      roundTimeoutMs: this.options.antiEntropyRoundTimeoutMs,
      roundIdleMs: this.options.suspectAfterMs,
      maxDiffBytes: deps.maxDocumentBytes,
      maxDocumentBytes: deps.maxDocumentBytes,
      clock: deps.clock,
      ...(deps.tombstones !== undefined ? deps.tombstones.antiEntropyHooks(this.log) : {}),
      onRoundComplete: (link, startedAtMs, skipped) => {
        const region = link.remote?.region
        if (region === undefined) return
        // A skipped document may hold that region's writes: the round proves nothing about "everything up to startedAtMs".
        if (skipped > 0) {
          this.log.warn({ peer: link.remote?.nodeId, skipped }, 'anti-entropy round skipped documents: staleness towards that region not advanced')
          return
        }
        this.lastExchange.set(region, Math.max(startedAtMs, this.lastExchange.get(region) ?? 0))
      }
    })
  }

  get tracking(): ReplicationTracker {
    return this.tracker
  }

  /** Other regions known in the mesh right now. */
  get otherRegions(): string[] {
    return this.foreignRegions()
  }

  /** Registers the mesh endpoint and `/v1/cluster`; call before the server starts listening. */
  register(app: FastifyInstance): void {
    app.get(MESH_PATH, {
      websocket: true,
      preValidation: async (request, reply) => {
        // The upgrade carries no credential (it could be replayed): the peer proves itself in-band. Until then it may only hold a bounded number of sockets.
        if (this.links.tooManyPending()) {
          this.log.warn({ ip: request.ip }, 'mesh link refused: too many handshakes pending')
          return reply.code(503).send({ code: 'ERR_MESH_BUSY', message: 'too many mesh handshakes pending' })
        }
      }
    }, (socket) => {
      this.links.adopt(socket, 'accepted', null)
    })
    app.get('/v1/cluster', async () => ({ ...this.status(), links: this.linkStats() }))
  }

  /** A link socket from any transport (see Relay.acceptSocket): the same check as the HTTP upgrade. */
  acceptSocket(socket: RelaySocket, _headers: Readonly<Record<string, string | string[] | undefined>>, ip: string): void {
    if (this.links.tooManyPending()) {
      this.log.warn({ ip }, 'mesh link refused: too many handshakes pending')
      socket.close(1013, 'ERR_MESH_BUSY')
      return
    }
    this.links.adopt(socket, 'accepted', null)
  }

  /** Starts gossip, heartbeats, dialing and anti-entropy once the relay's own URL is known. */
  async start(listenUrl: string): Promise<void> {
    const url = this.options.advertiseUrl ?? listenUrl
    this.self = { nodeId: this.d.nodeId, region: this.d.region, url, incarnation: this.options.incarnation }
    this.membership = new Membership(this.self, { suspectAfterMs: this.options.suspectAfterMs, downAfterMs: this.options.downAfterMs, maxMembers: this.options.maxMembers })
    if (this.membership.merge(await this.memory.recall()).length > 0) this.membershipChanged()
    this.dialer = new MeshDialer({
      options: this.options,
      self: this.self,
      path: MESH_PATH,
      maxMessageBytes: this.d.maxMessageBytes,
      random: this.d.random,
      logger: this.log,
      isLinked: (nodeId) => this.links.open.get(nodeId)?.isOpen === true,
      adopt: (socket, url, expected) => void this.links.adopt(socket, 'dialed', url, expected)
    })
    this.unsubscribe.push(
      this.d.rooms.onRoomLoaded((room) => this.watchRoom(room)),
      // Evicted rooms leave their final digest behind, so the index needs no reload for them.
      this.d.rooms.onRoomEvicted((room) => {
        // After a failed write memory is not what is stored: recompute from storage (a deleted one: its tombstone).
        if (room.storageFailed || this.d.tombstones?.isKnownDeleted(room.name) === true) this.digests.markDirty(room.name)
        else this.digests.set(room.name, docDigest(room.doc))
      })
    )
    for (const room of await this.d.rooms.loadedRooms()) this.watchRoom(room)
    for (const name of await this.d.storage.list()) this.digests.markDirty(name)
    if (this.d.tombstones !== undefined) this.unsubscribe.push(await this.d.tombstones.feedDigests((name) => this.digests.set(name, tombstoneDigest(name))))
    this.heartbeat = this.d.clock.setInterval(() => this.tick(), this.options.heartbeatIntervalMs)
    const aeEvery = Math.max(10, Math.floor(this.options.antiEntropyIntervalMs / 4))
    this.aeTimer = this.d.clock.setInterval(() => this.antiEntropyTick(), aeEvery)
    this.tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.d.clock.clearInterval(this.heartbeat)
    this.d.clock.clearInterval(this.aeTimer)
    for (const u of this.unsubscribe.splice(0)) u()
    this.links.closeAll(1001, 'relay shutting down')
    await this.memory.flush()
  }

  status(): MeshStatus {
    return meshStatus({
      now: this.d.clock.now(),
      self: this.self,
      nodeId: this.d.nodeId,
      region: this.d.region,
      members: this.membership?.list() ?? [],
      links: this.links.open,
      foreignRegions: this.foreignRegions(),
      lastExchange: this.lastExchange,
      isStored: (region) => this.memory.isStored(region),
      tracker: this.tracker,
      refused: this.links.refused,
      antiEntropy: this.ae.counters
    })
  }

  /** Per-link counters, keyed by the remote node id. */
  linkStats(): Record<string, MeshLink['stats']> {
    return this.links.stats()
  }

  /** Cached: it is asked for on every acknowledgement, and changes only when gossip brings news. */
  private foreignRegions(): string[] {
    if (this.regionsCache !== null) return this.regionsCache
    const regions = new Set((this.membership?.list() ?? []).map((m) => m.region))
    regions.delete(this.d.region)
    const list = [...regions].sort()
    if (this.membership !== null) this.regionsCache = list
    return list
  }

  private membershipChanged(): void {
    this.membersChanged = true
    this.regionsCache = null
    // Saved now, not at the next heartbeat: a new region's staleness stays unbounded until it is stored.
    if (!this.stopped && this.membership !== null) this.memory.save(this.membership.records())
  }

  /** A link is up: the remote proved who it is (membership learns it) and gets this relay's view of the members. */
  private onLinkUp(link: MeshLink, remote: MeshMember): void {
    const membership = this.membership as Membership
    if (membership.prove(remote)) this.membershipChanged()
    membership.contact(remote.nodeId, this.d.clock.now())
    link.send({ type: 'mesh-members', members: membership.records() })
    this.log.info({ peer: remote.nodeId, peerRegion: remote.region, direction: link.direction }, 'mesh link up')
  }

  private onLinkClosed(link: MeshLink): void {
    this.ae.abort(link, 'link closed')
    this.pushes.linkClosed(link)
  }

  private onMessage(link: MeshLink, m: MeshMessage): void {
    const remote = link.remote as MeshMember
    this.membership?.contact(remote.nodeId, this.d.clock.now())
    if (this.ae.handle(link, m)) return
    switch (m.type) {
      case 'mesh-members':
        // What the peer says of itself was proven in its hello; gossip may not re-describe it.
        if ((this.membership?.merge(m.members.filter((x) => x.nodeId !== remote.nodeId)).length ?? 0) > 0) this.membershipChanged()
        return
      case 'mesh-challenge':
      case 'mesh-hello':
        return // consumed by the link's handshake
      case 'mesh-ping':
        link.send({ type: 'mesh-pong', nonce: m.nonce })
        return
      case 'mesh-pong':
        return
      case 'mesh-update':
        void this.pushes.receive(link, remote, m)
        return
      case 'mesh-update-ack':
        this.pushes.acknowledged(link, remote, m)
        return
      default:
        return
    }
  }

  private watchRoom(room: Room): void {
    this.digests.markDirty(room.name)
    room.onChange((change) => this.onRoomChange(room, change))
  }

  /** Every change of a loaded room: its digest is stale; the push half decides where it goes (mesh-push.ts). */
  private onRoomChange(room: Room, { update, source }: RoomChange): void {
    this.digests.markDirty(room.name)
    if (this.stopped) return
    this.pushes.onRoomChange(room.name, update, source)
  }

  private tick(): void {
    if (this.stopped || this.membership === null) return
    const now = this.d.clock.now()
    this.ticks++
    for (const m of this.membership.tick(now)) this.log.info({ peer: m.nodeId, state: m.state }, 'mesh member state changed')
    const gossip = this.membersChanged || this.ticks % 10 === 0
    for (const link of this.links.open.values()) {
      if (now - link.lastReceivedMs > this.options.suspectAfterMs) {
        link.close(MESH_CLOSE_CODES.SILENT, 'silent')
        continue
      }
      link.send({ type: 'mesh-ping', nonce: ++this.nonce })
      if (gossip) link.send({ type: 'mesh-members', members: this.membership.records() })
    }
    this.membersChanged = false
    this.memory.save(this.membership.records())
    this.dialer?.dialMissing(this.membership.list(), now)
  }

  /** The relays of this region share storage and a bus: nothing to gossip among them. */
  private get regionShared(): boolean {
    return this.options.regionShared
  }

  private antiEntropyTick(): void {
    if (this.stopped) return
    const now = this.d.clock.now()
    for (const link of this.links.open.values()) {
      const region = link.remote?.region
      if (region === undefined || !link.isOpen || this.ae.isRunning(link)) continue
      if (this.regionShared && region === this.d.region) continue
      const last = this.lastRoundStart.get(link) ?? 0
      if (now - last < this.options.antiEntropyIntervalMs) continue
      this.lastRoundStart.set(link, now)
      void this.ae.start(link)
    }
  }

  private readonly lastRoundStart = new WeakMap<MeshLink, number>()
}
