import type { MeshMember } from '@meridian/protocol'

export type MemberState = 'joining' | 'alive' | 'suspect' | 'down'

export interface MemberRecord extends MeshMember {
  state: MemberState
  /** Local time of the last message received directly from it; null if never. */
  lastContactMs: number | null
  readonly self: boolean
}

export interface FailureDetectorOptions {
  /** No direct contact for this long: suspect. */
  suspectAfterMs: number
  /** No direct contact for this long: down. */
  downAfterMs: number
}

/**
 * What this relay knows of the mesh: members learned from seeds and gossip
 * (the record with the higher incarnation wins), and a timeout-based failure
 * detector fed by direct contact only, so one relay's view never marks another
 * alive second-hand.
 */
export class Membership {
  private readonly members = new Map<string, MemberRecord>()
  private readonly options: FailureDetectorOptions

  constructor(self: MeshMember, options: FailureDetectorOptions) {
    this.options = options
    this.members.set(self.nodeId, { ...self, state: 'alive', lastContactMs: null, self: true })
  }

  get(nodeId: string): MemberRecord | undefined {
    return this.members.get(nodeId)
  }

  list(): MemberRecord[] {
    return [...this.members.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
  }

  /** Gossip payload: every member as this relay knows it. */
  records(): MeshMember[] {
    return this.list().map(({ nodeId, region, url, incarnation }) => ({ nodeId, region, url, incarnation }))
  }

  /** Merges gossip; returns members that are new or whose record changed (e.g. a restart with a new URL). */
  merge(incoming: readonly MeshMember[]): MeshMember[] {
    const changed: MeshMember[] = []
    for (const m of incoming) {
      if (m.nodeId.length === 0 || m.url.length === 0) continue
      const known = this.members.get(m.nodeId)
      if (known?.self === true) continue
      if (known === undefined) {
        this.members.set(m.nodeId, { ...m, state: 'joining', lastContactMs: null, self: false })
        changed.push(m)
      } else if (m.incarnation > known.incarnation) {
        known.incarnation = m.incarnation
        known.url = m.url
        known.region = m.region
        changed.push(m)
      }
    }
    return changed
  }

  /** A message arrived directly from `nodeId`. Returns true if its state changed. */
  contact(nodeId: string, nowMs: number): boolean {
    const m = this.members.get(nodeId)
    if (m === undefined || m.self) return false
    m.lastContactMs = nowMs
    if (m.state === 'alive') return false
    m.state = 'alive'
    return true
  }

  /** Applies the timeouts; returns the members whose state changed. */
  tick(nowMs: number): MemberRecord[] {
    const changed: MemberRecord[] = []
    for (const m of this.members.values()) {
      if (m.self || m.lastContactMs === null) continue
      const silentMs = nowMs - m.lastContactMs
      const next: MemberState = silentMs >= this.options.downAfterMs ? 'down' : silentMs >= this.options.suspectAfterMs ? 'suspect' : 'alive'
      if (next !== m.state) {
        m.state = next
        changed.push(m)
      }
    }
    return changed
  }
}
