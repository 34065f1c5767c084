import type { Logger } from 'pino'
import type { MeshMember } from '@meridian/protocol'
import type { StorageAdapter } from '@meridian/storage'
import { isValidMember } from './membership.js'

/**
 * What a relay remembers of its mesh across restarts, in its own storage
 * (optional adapter methods; an adapter without them remembers nothing and
 * the relay relearns the mesh by gossip). Relays of a region sharing storage
 * read each other's views too.
 */
export class MemberMemory {
  private saved = ''
  private saving: Promise<void> | null = null
  /** Regions of this relay's last committed save: what its storage holds for it (saves replace the relay's rows in one transaction). */
  private stored = new Set<string>()

  constructor(private readonly storage: StorageAdapter, private readonly nodeId: string, private readonly log: Logger) {}

  /** Members remembered by this relay or its region's (other than itself); [] if storage cannot tell. */
  async recall(): Promise<MeshMember[]> {
    const load = this.storage.loadMeshMembers
    if (load === undefined) return []
    try {
      const stored = await load.call(this.storage)
      const members = stored.filter((m) => m.nodeId !== this.nodeId && isValidMember(m))
      this.log.info({ members: members.length }, 'mesh members recalled from storage')
      return members
    } catch (err) {
      // Not fatal: the relay learns the mesh again by gossip; until then it reports only what it knows.
      this.log.error({ err }, 'cannot read remembered mesh members')
      return []
    }
  }

  /**
   * True once a save of this relay holding a member of `region` committed: a
   * restart would still know that region (and report it unbounded rather than
   * omit it), so a bounded staleness for it may be reported. Always true when
   * the storage cannot remember members at all: there is nothing to wait for.
   */
  isStored(region: string): boolean {
    return this.storage.saveMeshMembers === undefined || this.stored.has(region)
  }

  /** Saves `records` if they changed since the last save; one write at a time (a later call retries a failed one). */
  save(records: readonly MeshMember[]): void {
    const save = this.storage.saveMeshMembers
    if (save === undefined || this.saving !== null) return
    const text = JSON.stringify(records)
    if (text === this.saved) return
    this.saving = save.call(this.storage, this.nodeId, records).then(
      () => {
        this.saved = text
        this.stored = new Set(records.map((m) => m.region))
      },
      // The regions it would have added stay unbounded in status until a save commits.
      (err: unknown) => this.log.error({ err }, 'cannot save mesh members (retried on the next heartbeat)')
    ).finally(() => {
      this.saving = null
    })
  }

  /** Waits for a save in flight. */
  async flush(): Promise<void> {
    await this.saving
  }
}
