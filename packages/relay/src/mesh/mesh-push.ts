/**
 * The mesh's push half: which relays a room's change goes to, by who made it
 * (`onRoomChange`, one `switch` over the change source), the pushes still
 * waiting for their acknowledgement, and applying a push from another relay
 * with the same checks as a client's write (`receive`).
 */
import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { Clock } from '@meridian/base'
import type { MeshMember, MeshMessage } from '@meridian/protocol'
import type { ChangeSource } from '../change-source.js'
import type { Room } from '../room.js'
import type { RoomManager } from '../rooms.js'
import { MAX_DOC_NAME_BYTES } from '../doc-name.js'
import { DocSizeGuard } from '../limits.js'
import { applyWithinLimits } from '../guarded-apply.js'
import type { MeshLink } from './link.js'
import type { ReplicationTracker } from './replication.js'

type MeshUpdate = Extract<MeshMessage, { type: 'mesh-update' }>
type MeshUpdateAck = Extract<MeshMessage, { type: 'mesh-update-ack' }>

export interface MeshPushDeps {
  readonly rooms: RoomManager
  readonly log: Logger
  readonly clock: Clock
  /** This relay's region. */
  readonly region: string
  /** The document size limit, applied to what the mesh applies as to client writes. */
  readonly maxDocumentBytes: number
  /** The relays of this region share storage and a bus: only other regions need a push. */
  readonly regionShared: boolean
  readonly tracker: ReplicationTracker
  /** The mesh's links, by remote node id. */
  readonly links: ReadonlyMap<string, MeshLink>
  /** Whether membership holds that node alive (alive relays are pushed to first). */
  isAlive(nodeId: string): boolean
  /** Other regions known in the mesh right now. */
  foreignRegions(): string[]
}

export class MeshPush {
  /** Pushes of tracked writes waiting for their acknowledgement, by `${link.id}:${push id}`. */
  private readonly outstanding = new Map<string, { docName: string; seq: number; region: string }>()
  private pushId = 0
  private readonly docSize: DocSizeGuard

  constructor(private readonly d: MeshPushDeps) {
    this.docSize = new DocSizeGuard(d.maxDocumentBytes)
  }

  /** Which relays a change of `docName` goes to, by who made it. */
  onRoomChange(docName: string, update: Uint8Array, source: ChangeSource): void {
    const own = this.d.region
    switch (source.kind) {
      case 'anti-entropy':
        // Pulled from a relay that has it; the other relays of this region pull it in their own rounds.
        return
      case 'mesh':
        // From another region: fan out inside this one (unless the region's bus does). From this region: the sender already did.
        if (source.region !== own && !this.d.regionShared) this.push(docName, update, this.regionLinks(own, source.nodeId), null)
        return
      case 'bus':
      case 'bus-catch-up':
        // Another relay of this region accepted it and pushes it to the other regions.
        return
      case 'client':
      case 'bus-merge':
      case 'server': {
        const seq = this.d.tracker.addLocalWrite(docName, update, this.d.foreignRegions(), this.d.clock.now())
        // The connection that sent it maps its own message numbers to tracked writes (replication reports).
        if (source.kind === 'client' || source.kind === 'server') source.tracked?.(seq)
        // Relays sharing the region's storage and bus already have it: only other regions need a push.
        const targets = this.d.regionShared ? [] : [...this.regionLinks(own, null)]
        for (const region of this.d.foreignRegions()) {
          const target = this.regionLinks(region, null)[0]
          if (target !== undefined) targets.push(target)
        }
        this.push(docName, update, targets, seq)
        return
      }
    }
  }

  /** A push's acknowledgement: the tracker marks the write held in the sender's region. */
  acknowledged(link: MeshLink, remote: MeshMember, m: MeshUpdateAck): void {
    const key = `${link.id}:${m.id}`
    const sent = this.outstanding.get(key)
    this.outstanding.delete(key)
    this.d.tracker.confirm(m.docName, remote.region, m.stateVector, sent !== undefined && sent.docName === m.docName ? { seq: sent.seq } : {})
  }

  /** A link closed: its pushes will never be acknowledged (the tracker keeps the writes pending; anti-entropy confirms them). */
  linkClosed(link: MeshLink): void {
    for (const [key] of this.outstanding) if (key.startsWith(`${link.id}:`)) this.outstanding.delete(key)
  }

  /** Applies a push from another relay and acknowledges it once committed. */
  async receive(link: MeshLink, remote: MeshMember, { id, docName, update }: MeshUpdate): Promise<void> {
    if (docName.length === 0 || Buffer.byteLength(docName) > MAX_DOC_NAME_BYTES) {
      this.d.log.warn({ peer: link.remote?.nodeId }, 'mesh push with an invalid document name ignored')
      return
    }
    let room: Room
    try {
      room = await this.d.rooms.acquire(docName)
    } catch (err) {
      this.d.log.warn({ err, doc: docName }, 'mesh push: document could not be loaded')
      return
    }
    try {
      // The same checks as a client's write. Not acknowledged when refused: the sender's tracker keeps it
      // pending, and anti-entropy (which skips what it cannot take) reports the document rather than lying.
      const result = applyWithinLimits(room, update, { kind: 'mesh', region: remote.region, nodeId: remote.nodeId }, this.docSize)
      switch (result.kind) {
        case 'too-large':
          this.d.log.warn({ doc: docName, peer: link.remote?.nodeId, limit: this.d.maxDocumentBytes }, 'mesh push refused: the document would pass its size limit')
          return
        case 'missing-deps':
          await result.committed
          // Depends on changes this relay lacks (an earlier push lost with a link): anti-entropy brings them.
          this.d.log.debug({ doc: docName, peer: link.remote?.nodeId }, 'mesh push with missing dependencies: part dropped')
          return
        case 'applied':
          await result.committed
      }
      link.send({ type: 'mesh-update-ack', id, docName, stateVector: Y.encodeStateVector(room.doc) })
    } catch (err) {
      this.d.log.warn({ err, doc: docName, peer: link.remote?.nodeId }, 'mesh push not applied')
    } finally {
      this.d.rooms.release(room)
    }
  }

  /** Open links to relays of `region`, alive first, then by node id (a stable choice of "the" relay of a region). */
  private regionLinks(region: string, exceptNodeId: string | null): MeshLink[] {
    const rank = (l: MeshLink): number => (this.d.isAlive(l.remote?.nodeId ?? '') ? 0 : 1)
    return [...this.d.links.values()]
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
}
