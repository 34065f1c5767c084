import type { MeshMember } from '@meridian/protocol'

export type MemberState = 'joining' | 'alive' | 'suspect' | 'down'

/** Region names become metric labels and status keys: short, printable, no separators. */
export const REGION_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
export const NODE_ID_PATTERN = /^[\x21-\x7e]{1,128}$/
const MAX_URL_LENGTH = 2_048

export const isValidRegionName = (region: string): boolean => REGION_NAME_PATTERN.test(region)

/** A member record fit to keep: printable id, valid region, a ws:// or wss:// URL, an integer incarnation. */
export function isValidMember(m: MeshMember): boolean {
  return NODE_ID_PATTERN.test(m.nodeId) && isValidRegionName(m.region) && m.url.length <= MAX_URL_LENGTH &&
    /^wss?:\/\/[^/\s]+\S*$/.test(m.url) && Number.isSafeInteger(m.incarnation) && m.incarnation >= 0
}

export interface MemberRecord extends MeshMember {
  state: MemberState
  /**
   * True once the member proved this record itself in a link handshake with
   * this relay. Records from gossip or from storage are hints: dialed, but a
   * link to them must prove that node id, and their region counts only as one
   * this relay cannot vouch for (unknown staleness).
   */
  proven: boolean
  /** Local time of the last message received directly from it; null if never. */
  lastContactMs: number | null
  readonly self: boolean
}

export interface MembershipOptions extends FailureDetectorOptions {
  /** Most members kept; gossip beyond it is ignored (proven members are always kept). */
  maxMembers: number
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
  private readonly options: MembershipOptions

  constructor(self: MeshMember, options: MembershipOptions) {
    this.options = options
    this.members.set(self.nodeId, { ...self, state: 'alive', lastContactMs: null, self: true, proven: true })
  }

  get size(): number {
    return this.members.size
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

  /**
   * Merges gossip (or records read back from storage): unproven hints.
   * Invalid records and new members past `maxMembers` are ignored; a newer
   * incarnation replaces a record, which must then be proven again.
   * Returns members that are new or whose record changed.
   */
  merge(incoming: readonly MeshMember[]): MeshMember[] {
    const changed: MeshMember[] = []
    for (const m of incoming) {
      if (!isValidMember(m)) continue
      const known = this.members.get(m.nodeId)
      if (known?.self === true) continue
      if (known === undefined) {
        if (this.members.size >= this.options.maxMembers) continue
        this.members.set(m.nodeId, { nodeId: m.nodeId, region: m.region, url: m.url, incarnation: m.incarnation, state: 'joining', lastContactMs: null, self: false, proven: false })
        changed.push(m)
      } else if (m.incarnation > known.incarnation) {
        known.incarnation = m.incarnation
        known.url = m.url
        known.region = m.region
        known.proven = false
        changed.push(m)
      }
    }
    return changed
  }

  /** A link handshake proved this identity: it replaces whatever gossip said of that node. Returns true if the record changed. */
  prove(m: MeshMember): boolean {
    const known = this.members.get(m.nodeId)
    if (known?.self === true) return false
    if (known === undefined) {
      this.members.set(m.nodeId, { nodeId: m.nodeId, region: m.region, url: m.url, incarnation: m.incarnation, state: 'joining', lastContactMs: null, self: false, proven: true })
      return true
    }
    const changed = known.region !== m.region || known.url !== m.url || known.incarnation !== m.incarnation || !known.proven
    known.region = m.region
    known.url = m.url
    known.incarnation = m.incarnation
    known.proven = true
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
