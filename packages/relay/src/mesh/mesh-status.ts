/**
 * What the mesh reports about itself (`/v1/cluster`, the relay's status):
 * its members, and per other region the staleness bound and the replication
 * backlog (docs/architecture.md, "Staleness").
 */
import type { MeshMember } from '@meridian/protocol'
import type { HandshakeFailure, MeshLink } from './link.js'
import type { MemberRecord } from './membership.js'
import type { RegionBacklog, ReplicationTracker } from './replication.js'

export interface RegionStatus extends RegionBacklog {
  /** Local time the last completed anti-entropy exchange with that region started (s_Q in docs/architecture.md, "Staleness"). */
  lastExchangeStartedAtMs: number | null
  /**
   * now - s_Q: everything that region had accepted before then is here. Null:
   * never exchanged, or no member of that region is in this relay's storage yet
   * (a restart would forget the region, so no bound is promised for it).
   */
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

/** What `meshStatus` reads, at one moment `now`. */
export interface MeshStatusInput {
  readonly now: number
  readonly self: MeshMember | null
  readonly nodeId: string
  readonly region: string
  readonly members: readonly MemberRecord[]
  readonly links: ReadonlyMap<string, MeshLink>
  readonly foreignRegions: readonly string[]
  /** When the last completed anti-entropy exchange with each region started. */
  readonly lastExchange: ReadonlyMap<string, number>
  /** Whether a member of the region is durably stored (MemberMemory.isStored). */
  readonly isStored: (region: string) => boolean
  readonly tracker: ReplicationTracker
  readonly refused: MeshStatus['refusedLinks']
  readonly antiEntropy: MeshStatus['antiEntropy']
}

export function meshStatus(i: MeshStatusInput): MeshStatus {
  const { now, links } = i
  const members = i.members.map((m) => ({
    ...m,
    linked: links.get(m.nodeId)?.isOpen === true,
    lastContactAgoMs: m.lastContactMs === null ? null : now - m.lastContactMs
  }))
  const regions: Record<string, RegionStatus> = {}
  for (const region of i.foreignRegions) {
    const s = i.lastExchange.get(region) ?? null
    regions[region] = {
      lastExchangeStartedAtMs: s,
      stalenessMs: s === null || !i.isStored(region) ? null : now - s,
      reachable: [...links.values()].some((l) => l.isOpen && l.remote?.region === region),
      ...i.tracker.backlog(region, now)
    }
  }
  return { nodeId: i.nodeId, region: i.region, url: i.self?.url ?? '', members, regions, refusedLinks: { ...i.refused }, antiEntropy: { ...i.antiEntropy } }
}
