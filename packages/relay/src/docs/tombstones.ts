/**
 * Deleted documents (the document API's DELETE). A deletion is a tombstone in
 * storage (`StorageAdapter.tombstone`: the document's rows go, its name is
 * recorded) and is final for the name: no relay loads the document again, so a
 * client that reconnects with an offline copy is refused (ERR_DOC_DELETED) and
 * cannot bring it back, and neither can a late mesh push or an anti-entropy
 * pull (the load is refused, and the tombstone travels in the mesh digest: see
 * mesh/digest-index.ts `tombstoneDigest`, PROTOCOL.md "Tombstones").
 *
 * Known tombstones are cached here (names only). A name not in the cache is
 * looked up in storage; when no other relay deletes in this storage, a name
 * found not deleted is remembered too (bounded, most recently looked up kept),
 * since then every later deletion of it goes through `delete` here (the
 * document API, or a tombstone arriving by mesh), which forgets it first. With
 * a shared storage (a region's relays) every load looks it up, so a deletion
 * made by another relay is seen on the next load.
 */
import type { Logger } from 'pino'
import type { DocTombstone, StorageAdapter } from '@meridian/storage'
import { RelayError } from '../errors.js'
import type { RoomManager } from '../rooms.js'

export interface DocTombstonesOptions {
  storage: StorageAdapter
  rooms: RoomManager
  logger: Logger
  /** Wall-clock time for `deletedAtMs` (an audit field: nothing orders by it). */
  now: () => number
  /** Other relays delete in this storage (a region with a bus): no name is remembered as not deleted. */
  sharedStorage: boolean
  /** Most names remembered as not deleted; default DEFAULT_MAX_ABSENT_NAMES. */
  maxAbsentNames?: number
}

/** At most 512 bytes each (doc-name.ts): a few MB in the worst case. */
export const DEFAULT_MAX_ABSENT_NAMES = 10_000

/** Who deleted it: this relay's API, or a relay of another region (learned through the mesh). */
export type DeletionOrigin = { kind: 'api'; actor: string } | { kind: 'mesh'; region: string }

export type TombstoneListener = (docName: string) => void

export class DocTombstones {
  private readonly o: DocTombstonesOptions
  private readonly known = new Set<string>()
  /** Deletions under way, by name (a second DELETE waits for the first). */
  private readonly deleting = new Map<string, Promise<DocTombstone>>()
  private readonly listeners = new Set<TombstoneListener>()
  /** Names storage had no tombstone for, least recently looked up first (empty with a shared storage). */
  private readonly absent = new Set<string>()
  /** Deletions started: a lookup that overlapped one does not remember its answer. */
  private deletionsStarted = 0

  constructor(options: DocTombstonesOptions) {
    this.o = options
    options.rooms.setLoadGuard(async (name) => {
      if (await this.isDeleted(name)) throw new RelayError('ERR_DOC_DELETED', name)
    })
  }

  /** Whether the storage can keep tombstones (the optional adapter methods). */
  get supported(): boolean {
    const s = this.o.storage
    return typeof s.tombstone === 'function' && typeof s.loadTombstone === 'function' && typeof s.listTombstones === 'function'
  }

  /** Cached answer only (no storage read): for hot paths that must not wait. */
  isKnownDeleted(name: string): boolean {
    return this.known.has(name) || this.deleting.has(name)
  }

  async isDeleted(name: string): Promise<boolean> {
    if (this.isKnownDeleted(name)) return true
    if (!this.supported) return false
    if (this.absent.delete(name)) {
      this.absent.add(name)
      return false
    }
    const started = this.deletionsStarted
    const found = await (this.o.storage.loadTombstone as (n: string) => Promise<DocTombstone | null>)(name)
    if (found !== null) this.known.add(name)
    else if (!this.o.sharedStorage && started === this.deletionsStarted) this.rememberAbsent(name)
    return found !== null
  }

  private rememberAbsent(name: string): void {
    this.absent.add(name)
    if (this.absent.size <= (this.o.maxAbsentNames ?? DEFAULT_MAX_ABSENT_NAMES)) return
    const oldest = this.absent.values().next()
    if (oldest.done !== true) this.absent.delete(oldest.value)
  }

  /** Every stored tombstone (cached as well); [] when the storage keeps none. */
  async loadAll(): Promise<string[]> {
    if (!this.supported) return []
    const all = await (this.o.storage.listTombstones as () => Promise<DocTombstone[]>)()
    for (const t of all) this.known.add(t.docName)
    return all.map((t) => t.docName)
  }

  /** Anti-entropy's view of deletions (mesh/anti-entropy.ts): tombstone digests, and deleting what a peer deleted. */
  antiEntropyHooks(log: Logger): { isDeleted: (name: string) => Promise<boolean>; onRemoteTombstone: (name: string, region: string) => void } {
    return {
      isDeleted: (name) => this.isDeleted(name),
      onRemoteTombstone: (name, region) => {
        this.delete(name, { kind: 'mesh', region }).catch((err: unknown) => log.warn({ err, doc: name }, 'a deletion from the mesh could not be stored; the next round retries'))
      }
    }
  }

  /** Every known tombstone, then each new one, to `set` (the mesh's digest index); returns the unsubscribe function. */
  async feedDigests(set: (name: string) => void): Promise<() => void> {
    for (const name of await this.loadAll()) set(name)
    return this.onDeleted(set)
  }

  /** Told after each deletion is stored (the mesh updates its digest). Returns the unsubscribe function. */
  onDeleted(listener: TombstoneListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Deletes `name`: new loads are refused at once, the loaded room's clients
   * are closed (ERR_DOC_DELETED) and it leaves memory, then the tombstone is
   * stored (removing the rows in the same transaction). Idempotent. Rejects
   * with ERR_NOT_SUPPORTED when the storage cannot keep tombstones.
   */
  delete(name: string, origin: DeletionOrigin): Promise<DocTombstone> {
    if (!this.supported) return Promise.reject(new RelayError('ERR_NOT_SUPPORTED', 'deleting needs a storage with tombstones'))
    const running = this.deleting.get(name)
    if (running !== undefined) return running
    // Forgotten even if the deletion fails: a failed tombstone write may still have committed.
    this.deletionsStarted++
    this.absent.delete(name)
    const work = (async (): Promise<DocTombstone> => {
      await this.o.rooms.drop(name, new RelayError('ERR_DOC_DELETED', name))
      const storage = this.o.storage as Required<Pick<StorageAdapter, 'tombstone' | 'loadTombstone'>>
      await storage.tombstone(name, Math.max(0, Math.floor(this.o.now())))
      this.known.add(name)
      const stored = (await storage.loadTombstone(name)) ?? { docName: name, deletedAtMs: Math.floor(this.o.now()) }
      this.o.logger.info({ doc: name, origin }, 'document deleted')
      for (const l of this.listeners) {
        try {
          l(name)
        } catch (err) {
          this.o.logger.error({ err, doc: name }, 'tombstone listener threw')
        }
      }
      return stored
    })()
    this.deleting.set(name, work)
    const settle = (): void => {
      if (this.deleting.get(name) === work) this.deleting.delete(name)
    }
    work.then(settle, settle)
    return work
  }
}
