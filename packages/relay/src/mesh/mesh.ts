import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Clock, ClockTimer } from '@meridian/base'
import type { RelaySocket } from '../transport.js'
import * as Y from 'yjs'
import { MESH_CLOSE_CODES, type MeshMember, type MeshMessage } from '@meridian/protocol'
import type { StorageAdapter } from '@meridian/storage'
import type { Room, RoomChange } from '../room.js'
import type { RoomManager } from '../rooms.js'
import { MAX_DOC_NAME_BYTES } from '../doc-name.js'
import { AntiEntropy } from './anti-entropy.js'
import { DigestIndex, docDigest, tombstoneDigest } from './digest-index.js'
import type { DocTombstones } from '../docs/tombstones.js'
import { MeshLink, type HandshakeFailure } from './link.js'
import { MeshDialer } from './dialer.js'
import { Membership, NODE_ID_PATTERN, REGION_NAME_PATTERN, isValidRegionName, type MemberRecord } from './membership.js'
import { RelayError } from '../errors.js'
import { DocSizeGuard } from '../limits.js'
import { applyWithinLimits } from '../guarded-apply.js'
import { MemberMemory } from './member-memory.js'
import { resolveMeshOptions, type MeshOptions, type ResolvedMeshOptions } from './options.js'
import { ReplicationTracker, type RegionBacklog } from './replication.js'

export const MESH_PATH = '/_meridian/mesh'

export interface RegionStatus extends RegionBacklog {
  /** Local time the last completed anti-entropy exchange with that region started (s_Q in docs/architecture.md, "Staleness"). */
  lastExchangeStartedAtMs: number | null
  /** now - s_Q: everything that region had accepted before then is here. Null: never exchanged. */
  stalenessMs: number | null
  /** Linked to at least one relay of that region right now. */
  reachable: boolean
}

export interface MeshStatus {
  nodeId: string
  region: string
  url: string
  members: (MemberRecord & { linked: boolean; lastContactAgoMs: number | null })[]
  /**
   * Every other region this relay knows of (from links, gossip, or what it
   * remembered in storage across restarts), never omitted: one it has not
   * completed an exchange with since it started has `stalenessMs` null.
   */
  regions: Record<string, RegionStatus>
  /** Link handshakes refused since start, by reason. */
  refusedLinks: Partial<Record<HandshakeFailure | 'too-many-pending', number>>
  /** Anti-entropy since start: documents skipped in a round, diffs dropped for the round buffer and pulled again. */
  antiEntropy: { skippedDocs: number; repulledDocs: number }
}

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
  private readonly links = new Map<string, MeshLink>()
  private readonly pendingLinks = new Set<MeshLink>()
  private dialer: MeshDialer | null = null
  private readonly refused: MeshStatus['refusedLinks'] = {}
  private readonly docSize: DocSizeGuard
  private readonly memory: MemberMemory
  private readonly lastExchange = new Map<string, number>()
  private readonly outstanding = new Map<string, { docName: string; seq: number; region: string }>()
  private readonly unsubscribe: (() => void)[] = []
  private heartbeat: ClockTimer | null = null
  private aeTimer: ClockTimer | null = null
  private pushId = 0
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
    this.docSize = new DocSizeGuard(deps.maxDocumentBytes)
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
        if (this.tooManyPending()) {
          this.log.warn({ ip: request.ip }, 'mesh link refused: too many handshakes pending')
          return reply.code(503).send({ code: 'ERR_MESH_BUSY', message: 'too many mesh handshakes pending' })
        }
      }
    }, (socket) => {
      this.adopt(socket, 'accepted', null)
    })
    app.get('/v1/cluster', async () => ({ ...this.status(), links: this.linkStats() }))
  }

  /** A link socket from any transport (see Relay.acceptSocket): the same check as the HTTP upgrade. */
  acceptSocket(socket: RelaySocket, _headers: Readonly<Record<string, string | string[] | undefined>>, ip: string): void {
    if (this.tooManyPending()) {
      this.log.warn({ ip }, 'mesh link refused: too many handshakes pending')
      socket.close(1013, 'ERR_MESH_BUSY')
      return
    }
    this.adopt(socket, 'accepted', null)
  }

  private tooManyPending(): boolean {
    let accepted = 0
    for (const l of this.pendingLinks) if (l.direction === 'accepted') accepted++
    if (accepted < this.options.maxPendingHandshakes) return false
    this.refused['too-many-pending'] = (this.refused['too-many-pending'] ?? 0) + 1
    return true
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
      isLinked: (nodeId) => this.links.get(nodeId)?.isOpen === true,
      adopt: (socket, url, expected) => void this.adopt(socket, 'dialed', url, expected)
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
    for (const link of [...this.links.values(), ...this.pendingLinks]) link.close(1001, 'relay shutting down')
    await this.memory.flush()
  }

  status(): MeshStatus {
    const now = this.d.clock.now()
    const members = (this.membership?.list() ?? []).map((m) => ({
      ...m,
      linked: this.links.get(m.nodeId)?.isOpen === true,
      lastContactAgoMs: m.lastContactMs === null ? null : now - m.lastContactMs
    }))
    const regions: Record<string, RegionStatus> = {}
    for (const region of this.foreignRegions()) {
      const s = this.lastExchange.get(region) ?? null
      regions[region] = {
        lastExchangeStartedAtMs: s,
        stalenessMs: s === null ? null : now - s,
        reachable: [...this.links.values()].some((l) => l.isOpen && l.remote?.region === region),
        ...this.tracker.backlog(region, now)
      }
    }
    return { nodeId: this.d.nodeId, region: this.d.region, url: this.self?.url ?? '', members, regions, refusedLinks: { ...this.refused }, antiEntropy: { ...this.ae.counters } }
  }

  /** Per-link counters, keyed by the remote node id. */
  linkStats(): Record<string, MeshLink['stats']> {
    return Object.fromEntries([...this.links.entries()].map(([id, l]) => [id, l.stats]))
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
  }

  private adopt(socket: RelaySocket, direction: 'dialed' | 'accepted', url: string | null, expectedNodeId: string | null = null): MeshLink {
    const link = new MeshLink({
      socket,
      direction,
      url,
      self: this.self as MeshMember,
      logger: this.log,
      maxMessageBytes: this.d.maxMessageBytes,
      maxBufferedBytes: this.options.maxLinkBufferedBytes,
      clock: this.d.clock,
      clusterSecret: this.options.clusterSecret,
      expectedNodeId,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      ...(this.options.nonce !== undefined ? { nonce: this.options.nonce } : {}),
      handlers: {
        onHello: (l, remote) => this.onHello(l, remote),
        onHandshakeFailed: (_l, reason) => {
          this.refused[reason] = (this.refused[reason] ?? 0) + 1
        },
        onMessage: (l, m) => this.onMessage(l, m),
        onClose: (l) => this.onLinkClose(l)
      }
    })
    this.pendingLinks.add(link)
    if (this.stopped || this.self === null) link.close(1001, 'not ready')
    return link
  }

  private onHello(link: MeshLink, remote: MeshMember): void {
    this.pendingLinks.delete(link)
    const self = this.self as MeshMember
    if (remote.nodeId === self.nodeId) {
      if (link.url !== null) this.dialer?.linked(link.url, self.nodeId)
      link.close(MESH_CLOSE_CODES.DUPLICATE_LINK, 'dialed itself')
      return
    }
    if (link.url !== null) {
      this.dialer?.linked(link.url, remote.nodeId)
    }
    const existing = this.links.get(remote.nodeId)
    if (existing !== undefined && existing.isOpen) {
      // Two links for one pair: keep the one the smaller node id dialed, on both sides alike.
      const keepNew = (link.direction === 'dialed') === (self.nodeId < remote.nodeId)
      const loser = keepNew ? existing : link
      if (!keepNew) {
        link.close(MESH_CLOSE_CODES.DUPLICATE_LINK, 'duplicate link')
        return
      }
      this.links.set(remote.nodeId, link)
      loser.close(MESH_CLOSE_CODES.DUPLICATE_LINK, 'duplicate link')
    } else {
      this.links.set(remote.nodeId, link)
    }
    const membership = this.membership as Membership
    if (membership.prove(remote)) this.membershipChanged()
    membership.contact(remote.nodeId, this.d.clock.now())
    link.send({ type: 'mesh-members', members: membership.records() })
    this.log.info({ peer: remote.nodeId, peerRegion: remote.region, direction: link.direction }, 'mesh link up')
  }

  private onLinkClose(link: MeshLink): void {
    this.pendingLinks.delete(link)
    this.ae.abort(link, 'link closed')
    for (const [key] of this.outstanding) if (key.startsWith(`${link.id}:`)) this.outstanding.delete(key)
    const id = link.remote?.nodeId
    if (id !== undefined && this.links.get(id) === link) {
      this.links.delete(id)
      this.log.info({ peer: id }, 'mesh link down')
    }
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
        void this.receivePush(link, remote, m.id, m.docName, m.update)
        return
      case 'mesh-update-ack': {
        const key = `${link.id}:${m.id}`
        const sent = this.outstanding.get(key)
        this.outstanding.delete(key)
        this.tracker.confirm(m.docName, remote.region, m.stateVector, sent !== undefined && sent.docName === m.docName ? { seq: sent.seq } : {})
        return
      }
      default:
        return
    }
  }

  private async receivePush(link: MeshLink, remote: MeshMember, id: number, docName: string, update: Uint8Array): Promise<void> {
    if (docName.length === 0 || Buffer.byteLength(docName) > MAX_DOC_NAME_BYTES) {
      this.log.warn({ peer: link.remote?.nodeId }, 'mesh push with an invalid document name ignored')
      return
    }
    let room: Room
    try {
      room = await this.d.rooms.acquire(docName)
    } catch (err) {
      this.log.warn({ err, doc: docName }, 'mesh push: document could not be loaded')
      return
    }
    try {
      // The same checks as a client's write. Not acknowledged when refused: the sender's tracker keeps it
      // pending, and anti-entropy (which skips what it cannot take) reports the document rather than lying.
      const result = applyWithinLimits(room, update, { kind: 'mesh', region: remote.region, nodeId: remote.nodeId }, this.docSize)
      switch (result.kind) {
        case 'too-large':
          this.log.warn({ doc: docName, peer: link.remote?.nodeId, limit: this.d.maxDocumentBytes }, 'mesh push refused: the document would pass its size limit')
          return
        case 'missing-deps':
          await result.committed
          // Depends on changes this relay lacks (an earlier push lost with a link): anti-entropy brings them.
          this.log.debug({ doc: docName, peer: link.remote?.nodeId }, 'mesh push with missing dependencies: part dropped')
          return
        case 'applied':
          await result.committed
      }
      link.send({ type: 'mesh-update-ack', id, docName, stateVector: Y.encodeStateVector(room.doc) })
    } catch (err) {
      this.log.warn({ err, doc: docName, peer: link.remote?.nodeId }, 'mesh push not applied')
    } finally {
      this.d.rooms.release(room)
    }
  }

  private watchRoom(room: Room): void {
    this.digests.markDirty(room.name)
    room.onChange((change) => this.onRoomChange(room, change))
  }

  /** Which relays a change goes to, by who made it. */
  private onRoomChange(room: Room, { update, source }: RoomChange): void {
    this.digests.markDirty(room.name)
    if (this.stopped) return
    const own = this.d.region
    switch (source.kind) {
      case 'anti-entropy':
        // Pulled from a relay that has it; the other relays of this region pull it in their own rounds.
        return
      case 'mesh':
        // From another region: fan out inside this one (unless the region's bus does). From this region: the sender already did.
        if (source.region !== own && !this.regionShared) this.push(room.name, update, this.regionLinks(own, source.nodeId), null)
        return
      case 'bus':
      case 'bus-catch-up':
        // Another relay of this region accepted it and pushes it to the other regions.
        return
      case 'client':
      case 'bus-merge':
      case 'server': {
        const seq = this.tracker.addLocalWrite(room.name, update, this.foreignRegions(), this.d.clock.now())
        // The connection that sent it maps its own message numbers to tracked writes (replication reports).
        if (source.kind === 'client' || source.kind === 'server') source.tracked?.(seq)
        // Relays sharing the region's storage and bus already have it: only other regions need a push.
        const targets = this.regionShared ? [] : [...this.regionLinks(own, null)]
        for (const region of this.foreignRegions()) {
          const target = this.regionLinks(region, null)[0]
          if (target !== undefined) targets.push(target)
        }
        this.push(room.name, update, targets, seq)
        return
      }
    }
  }

  /** Open links to relays of `region`, alive first, then by node id (a stable choice of "the" relay of a region). */
  private regionLinks(region: string, exceptNodeId: string | null): MeshLink[] {
    const rank = (l: MeshLink): number => (this.membership?.get(l.remote?.nodeId ?? '')?.state === 'alive' ? 0 : 1)
    return [...this.links.values()]
      .filter((l) => l.isOpen && l.remote !== null && l.remote.nodeId !== exceptNodeId && l.remote.region === region)
      .sort((a, b) => rank(a) - rank(b) || ((a.remote?.nodeId ?? '') < (b.remote?.nodeId ?? '') ? -1 : 1))
  }

  private push(docName: string, update: Uint8Array, targets: MeshLink[], seq: number | null): void {
    for (const link of targets) {
      const id = ++this.pushId
      if (link.send({ type: 'mesh-update', id, docName, update }) && seq !== null && link.remote !== null) {
        this.outstanding.set(`${link.id}:${id}`, { docName, seq, region: link.remote.region })
      }
    }
  }

  private tick(): void {
    if (this.stopped || this.membership === null) return
    const now = this.d.clock.now()
    this.ticks++
    for (const m of this.membership.tick(now)) this.log.info({ peer: m.nodeId, state: m.state }, 'mesh member state changed')
    const gossip = this.membersChanged || this.ticks % 10 === 0
    for (const link of this.links.values()) {
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
    for (const link of this.links.values()) {
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
