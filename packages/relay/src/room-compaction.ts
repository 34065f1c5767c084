/**
 * A room's compaction: folding its stored updates into one snapshot. When
 * every stored update is known to be in memory (`coveredSeq`), the snapshot
 * is the in-memory document, encoded without waiting for anything; otherwise
 * (shared storage: other relays' seqs interleave with ours) it is rebuilt from
 * storage's own content, through the same checks as a load. Either way it is
 * verified to load back before it replaces anything.
 */
import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { StorageAdapter } from '@meridian/storage'
import { hasPending } from './yjs-internals.js'
import { replayStored, verifySnapshot } from './stored-replay.js'
import type { UpdateLimits } from './update-guard.js'

/** Folds `docName`'s stored updates into a snapshot; returns how many updates were folded (0: none). */
export async function compactFromStorage(storage: StorageAdapter, docName: string, log: Logger, logger: Logger, limits: UpdateLimits): Promise<number> {
  const stored = await storage.load(docName)
  if (stored === null || stored.updates.length === 0) return 0
  const doc = new Y.Doc({ gc: true, guid: docName }) // no random guid: see room-load.ts
  try {
    const skipped = replayStored(doc, stored, null, { name: docName, limits, logger })
    const last = stored.updates[stored.updates.length - 1]
    if (last === undefined) return 0
    // A snapshot encodes integrated content only: stored updates that still wait for a
    // missing dependency (or were skipped) would be lost by folding them, so they stay as they are.
    if (hasPending(doc) || skipped > 0) {
      log.warn('stored updates have missing dependencies; not compacting')
      return 0
    }
    const snapshot = Y.encodeStateAsUpdate(doc)
    verifySnapshot(docName, snapshot, Y.encodeStateVector(doc), limits)
    await storage.compact(docName, snapshot, last.seq)
    return stored.updates.length
  } finally {
    doc.destroy()
  }
}

/** What a compaction needs of its room. */
export interface CompactedRoom {
  readonly name: string
  /** The room's logger (made on first use). */
  readonly log: Logger
  readonly updateLimits: UpdateLimits
  /** The in-memory document as a snapshot and its state vector, or null when memory cannot stand for storage. */
  memoryState(): { snapshot: Uint8Array; stateVector: Uint8Array } | null
}

/** What every room of a relay shares (its RoomOptions). */
export interface CompactionShared {
  readonly storage: StorageAdapter
  readonly logger: Logger
  readonly compactAfterUpdates: number
}

export class RoomCompaction {
  private running: Promise<void> | null = null

  /**
   * `writes`: the room's write queue (its `committed` settles once every
   * write queued so far did); `storedUpdates`: updates stored after the
   * snapshot; `coveredSeq`: every stored update up to this seq is in memory
   * (-1: unknown, shared storage). The room and the shared options are
   * referenced, not wrapped in closures: this is per-room memory.
   */
  constructor(
    private readonly room: CompactedRoom,
    private readonly shared: CompactionShared,
    private readonly writes: { readonly committed: Promise<void> },
    private storedUpdates: number,
    private coveredSeq: number
  ) {}

  /** Stored updates not yet folded into a snapshot (as far as this relay knows). */
  get uncompacted(): number {
    return this.storedUpdates
  }

  /** The compaction running now, if any. */
  get inFlight(): Promise<void> | null {
    return this.running
  }

  /** A commit stored these seqs: memory covers storage only while our seqs follow on from each other. */
  noteStored(seqs: readonly number[]): void {
    for (const seq of seqs) {
      if (this.coveredSeq < 0) break
      this.coveredSeq = seq === this.coveredSeq + 1 ? seq : -1
    }
    this.storedUpdates += seqs.length
    if (this.storedUpdates >= this.shared.compactAfterUpdates) void this.run()
  }

  /** Compacts now (one run at a time); failures are logged and leave the updates as they are. */
  run(): Promise<void> {
    if (this.running !== null) return this.running
    const attempt = async (): Promise<void> => {
      if (await this.fromMemory()) return
      await this.writes.committed.catch(() => undefined)
      const { room, shared } = this
      const folded = await compactFromStorage(shared.storage, room.name, room.log, shared.logger, room.updateLimits)
      this.storedUpdates = Math.max(0, this.storedUpdates - folded)
    }
    this.running = attempt()
      .catch((err: unknown) => this.room.log.warn({ err }, 'compaction failed; updates stay as they are'))
      .finally(() => {
        this.running = null
      })
    return this.running
  }

  private async fromMemory(): Promise<boolean> {
    if (this.coveredSeq < 0) return false
    const state = this.room.memoryState()
    if (state === null) return false
    const throughSeq = this.coveredSeq
    const folded = this.storedUpdates
    if (throughSeq === 0 || folded === 0) return true
    // May hold more than the updates up to throughSeq (changes not committed yet): they are stored
    // again after it, and applying them twice changes nothing. Nothing is deleted unless the
    // snapshot loads back to this very state.
    verifySnapshot(this.room.name, state.snapshot, state.stateVector, this.room.updateLimits)
    await this.shared.storage.compact(this.room.name, state.snapshot, throughSeq)
    this.storedUpdates = Math.max(0, this.storedUpdates - folded)
    return true
  }
}
