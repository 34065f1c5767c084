import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { StorageAdapter } from '@meridian/storage'
import { createSystemClock, type Clock } from '@meridian/base'
import { encodeMessage, encodeUpdateWithoutOldDeletes } from '@meridian/protocol'
import { EncodingCache, stateVectorKey } from './encoding-cache.js'
import { RelayError } from './errors.js'
import { sendTurn, type BroadcastEntry } from './broadcast.js'
import type { RelayMetrics } from './metrics.js'
import { broadcastExcept, isStoredHere, updateFrom, type ChangeSource, type UpdateFrom } from './change-source.js'
import { isHistoryDocName } from '@meridian/history'
import { refuseHistoryRewrites } from './history/append-only.js'
import { DeleteLog } from './delete-log.js'
import { AwarenessSweeper, RoomPresence, type AwarenessChange, type AwarenessSource } from './room-presence.js'
import { WriteQueue } from './room-writes.js'
import { hasPending, isWedged } from './yjs-internals.js'
import type { RoomPeer } from './room-peer.js'
import { DEFAULT_UPDATE_LIMITS, inspectUpdate, type UpdateInspection, type UpdateLimits } from './update-guard.js'
import { replayStored } from './stored-replay.js'
import { RoomCompaction } from './room-compaction.js'

export type { RoomPeer } from './room-peer.js'

const ROOM_CLOCK = createSystemClock({ unref: true })

export interface RoomOptions {
  storage: StorageAdapter
  logger: Logger
  /** Drives the awareness timeout sweep; default the system clock. */
  clock?: Clock
  /** One awareness sweep for every room of a relay (the room manager's); default one of the room's own. */
  sweeper?: AwarenessSweeper
  compactAfterUpdates: number
  /** Broadcasts are counted here (once per broadcast, not per socket). */
  metrics?: RelayMetrics
  /**
   * A change could not be stored: memory now holds what storage does not, so
   * the room must leave memory (the next load is from storage, and clients
   * resend what was lost, since their resend is a diff against the relay's state).
   */
  onStorageFailure?: (room: Room) => void
  /** Nesting and delete-set limits every update is checked against (update-guard.ts); default DEFAULT_UPDATE_LIMITS. */
  updateLimits?: UpdateLimits
  /**
   * Applying an update failed inside Yjs: the document in memory can no longer
   * be trusted (it may hold changes never reported, or stop reporting any). The
   * room's peers were failed; it must leave memory now, without being compacted.
   */
  onBroken?: (room: Room) => void
}

/**
 * One change to a room's document (not the replay from storage), told to
 * `onChange` listeners after it was queued for storage: `committed` resolves
 * once it is durable. `source` says who made it; listeners decide what to do
 * with it by `switch (source.kind)` (change-source.ts).
 */
export interface RoomChange {
  readonly update: Uint8Array
  readonly source: ChangeSource
  readonly committed: Promise<void>
}

export type RoomChangeListener = (change: RoomChange) => void

/** Origin of transactions that replay storage: they are not changes (stored already, nobody to tell). */
const LOAD_ORIGIN = Symbol('meridian-load')

/**
 * One document in memory: its Y.Doc, presence, the peers connected to it and
 * an ordered write queue to storage. `applyUpdate(update, source)` is the one
 * way in: what the document gained is one change of that source, stored
 * unless the source already stored it (change-source.ts), broadcast
 * once-encoded to every peer but the one it came from, and told to `onChange`
 * listeners (the mesh, the region bus) with a promise of its commit.
 *
 * Broadcast and commit happen at the end of the event-loop turn (a microtask:
 * no timer, so a simulated clock sees the same thing): the turn's broadcast
 * goes out first, framed once for all sockets (broadcast.ts), then the turn's
 * changes are committed together (room-writes.ts). A change resolves
 * (`applyUpdate`, `committed`) when the commit that covers it is durable.
 */
export class Room {
  readonly name: string
  readonly doc: Y.Doc
  private readonly options: RoomOptions
  /** A history document: clients may only add to it. */
  private readonly appendOnly: boolean
  /** Made on the first log line (see `log`). */
  private logger: Logger | null = null
  private readonly peers = new Set<RoomPeer>()
  private readonly presence: RoomPresence<RoomPeer>
  private readonly writes: WriteQueue
  /** Messages to broadcast at the end of this turn. */
  private outbox: BroadcastEntry[] = []
  private turnScheduled = false
  private readonly compaction: RoomCompaction
  private changeListeners: Set<RoomChangeListener> | null = null
  private awarenessListeners: Set<(change: AwarenessChange<RoomPeer>) => void> | null = null
  /**
   * Bytes of every change to the document so far (the updates `onChange`
   * listeners get), for size estimates that need no listener: see DocSizeGuard.
   */
  changedBytes = 0
  /** Bytes loaded from storage (snapshot and updates): with `changedBytes`, the memory budget's measure (memory-budget.ts). */
  loadedBytes = 0
  /** The whole document encoded once, for every joiner that has nothing yet; dropped on change. */
  private fullState: Uint8Array | null = null
  /** Diffs for recent non-empty state vectors; dropped on change. */
  private readonly diffs = new EncodingCache()
  private holds = 0
  private destroyed = false
  /** What Yjs emitted during the `applyUpdate` running now: its source's change(s). */
  private produced: Uint8Array[] = []
  /** The source of the `applyUpdate` running now (Yjs emits synchronously); null outside it. */
  private current: ChangeSource | null = null
  /** Recent deletions, for the digest exchange's `recent` replies; started by the first client that can use it. */
  private deletes: DeleteLog | null = null
  /** A write failed: this room's memory may hold changes storage does not. */
  storageFailed = false
  /** Applying an update failed inside Yjs: memory is not to be trusted, never compacted (see markBroken). */
  broken = false
  /** Set while the room is being evicted; acquirers wait for it and load afresh. */
  evicting: Promise<void> | null = null

  private constructor(name: string, doc: Y.Doc, storedUpdates: number, coveredSeq: number, options: RoomOptions) {
    this.name = name
    this.doc = doc
    this.options = options
    this.appendOnly = isHistoryDocName(name)
    this.compaction = new RoomCompaction({
      storage: options.storage,
      docName: name,
      log: () => this.log,
      logger: options.logger,
      limits: () => this.updateLimits,
      compactAfterUpdates: options.compactAfterUpdates,
      memoryState: () => this.memoryState(),
      writesSettled: () => this.writes.committed.catch(() => undefined)
    }, storedUpdates, coveredSeq)
    const clock = options.clock ?? ROOM_CLOCK
    this.presence = new RoomPresence(doc, clock, options.sweeper ?? new AwarenessSweeper(clock), this.onPresenceChange)
    this.writes = new WriteQueue(options.storage, name, { committed: this.onCommitted, failed: this.onWriteFailed })
    doc.on('update', this.onDocUpdate)
  }

  /** The room's logger, made when it first logs (most rooms never do). */
  private get log(): Logger {
    return (this.logger ??= this.options.logger.child({ doc: this.name }))
  }

  /** Presence (y-protocols awareness); change it through `applyAwareness`. */
  get awareness(): RoomPresence<RoomPeer>['awareness'] {
    return this.presence.awareness
  }

  /**
   * Loads a document from storage. A storage failure or an update that cannot
   * be applied rejects: an empty document must never stand in for stored data.
   */
  static async load(name: string, options: RoomOptions): Promise<Room> {
    let stored
    try {
      stored = await options.storage.load(name)
    } catch (cause) {
      throw new RelayError('ERR_DOC_LOAD', name, { cause })
    }
    // A guid of our own: Yjs would draw a UUID with 36 calls to the crypto RNG, a tenth of the relay's
    // CPU when many documents load (many-docs bench). The guid of a root document never goes on the wire.
    const doc = new Y.Doc({ gc: true, guid: name })
    if (stored !== null) {
      try {
        // Every stored update passes the live checks (update-guard.ts); one too deep is skipped.
        replayStored(doc, stored, LOAD_ORIGIN, { name, limits: options.updateLimits ?? DEFAULT_UPDATE_LIMITS, logger: options.logger })
      } catch (err) {
        doc.destroy()
        throw err
      }
    }
    const coveredSeq = stored === null ? 0 : (stored.updates.at(-1)?.seq ?? stored.snapshotSeq)
    const room = new Room(name, doc, stored?.updates.length ?? 0, coveredSeq, options)
    if (stored !== null) room.loadedBytes = stored.updates.reduce((n, u) => n + u.data.length, stored.snapshot?.length ?? 0)
    return room
  }

  get isIdle(): boolean {
    return this.holds === 0 && this.peers.size === 0
  }

  hold(): void {
    this.holds++
  }

  release(): void {
    if (this.holds > 0) this.holds--
  }

  addPeer(peer: RoomPeer): void {
    this.peers.add(peer)
  }

  removePeer(peer: RoomPeer): void {
    this.peers.delete(peer)
    this.presence.peerLeft(peer)
  }

  /**
   * Applies an update from `source`. Whatever the document gained is one change
   * of that source: stored unless the source already stored it (the region's
   * shared storage), broadcast to every peer but the one it came from, and told
   * to `onChange` listeners. Resolves once it is committed to storage (the
   * moment a Meridian client may be acknowledged). Every update is checked
   * against the room's limits first (`inspect`; a caller that inspected it
   * already passes the result); an update that fails inside Yjs breaks the
   * room (`markBroken`). Rejects with the inspection's error, ERR_DOC_BROKEN,
   * or ERR_STORAGE_WRITE.
   */
  applyUpdate(update: Uint8Array, source: ChangeSource, options?: { inspection?: UpdateInspection }): Promise<void> {
    if (this.destroyed || this.broken) return Promise.reject(new RelayError(this.broken ? 'ERR_DOC_BROKEN' : 'ERR_RELAY_CLOSED', this.name))
    if (options?.inspection === undefined) {
      try {
        this.inspect(update, updateFrom(source))
      } catch (err) {
        return Promise.reject(err)
      }
    }
    let failure: unknown = null
    const before = Y.encodeStateVector(this.doc)
    const produced = this.runAs(source, () => {
      try {
        Y.applyUpdate(this.doc, update)
      } catch (cause) {
        // It decoded (inspect), so the failure is inside Yjs' integration or cleanup.
        failure = cause
      }
    })
    if (failure !== null) {
      // Yjs threw before changing anything (no change emitted, same state, not wedged): a malformed
      // update, refused like one Yjs cannot read; the room is intact.
      if (produced.length === 0 && !isWedged(this.doc) && sameBytes(before, Y.encodeStateVector(this.doc))) {
        return Promise.reject(new RelayError('ERR_UPDATE_INVALID', undefined, { cause: failure }))
      }
      // Otherwise the document may hold changes never reported, or be wedged (it applies later updates
      // without reporting them): nothing of it is acknowledged, and it leaves memory.
      return Promise.reject(this.markBroken(failure))
    }
    if (isWedged(this.doc)) return Promise.reject(this.markBroken(new Error('a Yjs transaction cleanup failed')))
    return this.acceptAll(produced, source)
  }

  /**
   * A change the relay makes itself (e.g. the revocations document): `edit`
   * runs in one transaction, and what it changed is one change of `source`,
   * stored, broadcast and told to listeners like any other. Resolves once committed.
   */
  transact(edit: (doc: Y.Doc) => void, source: ChangeSource): Promise<void> {
    if (this.destroyed || this.broken) return Promise.reject(new RelayError(this.broken ? 'ERR_DOC_BROKEN' : 'ERR_RELAY_CLOSED', this.name))
    const produced = this.runAs(source, () => this.doc.transact(() => edit(this.doc)))
    return this.acceptAll(produced, source)
  }

  /** Runs `change` with `source` as the source of what Yjs emits meanwhile (synchronously); returns what it emitted. */
  private runAs(source: ChangeSource, change: () => void): Uint8Array[] {
    this.current = source
    try {
      change()
    } finally {
      this.current = null
    }
    const produced = this.produced
    this.produced = []
    return produced
  }

  /** Stores, broadcasts and tells each change of `source`; resolves once committed. */
  private acceptAll(produced: readonly Uint8Array[], source: ChangeSource): Promise<void> {
    for (const change of produced) this.accept(change, source)
    return this.writes.committed
  }

  /**
   * Checks an update against the room's limits before it is applied (see
   * update-guard.ts); throws a RelayError. A client's update to a history
   * document may not delete or replace a version (history/append-only.ts); the default is
   * the client's checks, so a caller must say when an update comes from a relay.
   */
  inspect(update: Uint8Array, from: UpdateFrom = 'client'): UpdateInspection {
    const inspection = inspectUpdate(this.doc, update, this.updateLimits)
    if (from === 'client' && this.appendOnly) refuseHistoryRewrites(this.doc, update)
    return inspection
  }

  get updateLimits(): UpdateLimits {
    return this.options.updateLimits ?? DEFAULT_UPDATE_LIMITS
  }

  /** Fails every peer with `error` (they disconnect with its code): the document is going away (deleted). */
  failPeers(error: RelayError): void {
    for (const peer of [...this.peers]) peer.fail(error)
  }

  /** The room can no longer be trusted: its peers are failed and it leaves memory (reloaded from storage next time). */
  private markBroken(cause: unknown): RelayError {
    const error = new RelayError('ERR_DOC_BROKEN', this.name, { cause })
    if (this.broken) return error
    this.broken = true
    this.log.error({ err: cause }, 'applying an update failed: dropping the document from memory')
    for (const peer of [...this.peers]) peer.fail(error)
    this.options.onBroken?.(this)
    return error
  }

  /**
   * What a peer with state vector `stateVector` lacks. A joiner with an empty
   * document gets the same bytes as every other such joiner, encoded once per
   * change rather than once per joiner.
   */
  diffFor(stateVector: Uint8Array, flavor: 'all-deletes' | 'new-deletes' = 'all-deletes'): Uint8Array {
    if (stateVector.length === 1 && stateVector[0] === 0) {
      this.fullState ??= Y.encodeStateAsUpdate(this.doc)
      return this.fullState
    }
    // Same version, same state vector: the same bytes (a client asking again costs no re-encoding).
    return this.diffs.get(stateVectorKey(flavor, stateVector), () => flavor === 'new-deletes'
      ? encodeUpdateWithoutOldDeletes(this.doc, stateVector)
      : Y.encodeStateAsUpdate(this.doc, stateVector))
  }

  /** Bytes of encodings kept for joiners (the full state and recent diffs). */
  get cachedBytes(): number {
    return (this.fullState?.length ?? 0) + this.diffs.bytes
  }

  /** The room's log of recent deletions (made on first use: only digest-capable clients need it). */
  deleteLog(): DeleteLog {
    return (this.deletes ??= new DeleteLog(this.doc, () => this.writerNodeId()))
  }

  /** The HELLO node id of the client whose update is being applied, if any (the delete log's "whose write"). */
  private writerNodeId(): string | null {
    const source = this.current
    return source !== null && source.kind === 'client' ? source.nodeId : null
  }

  /** Subscribes to changes of this room's document; returns the unsubscribe function. */
  onChange(listener: RoomChangeListener): () => void {
    const listeners = (this.changeListeners ??= new Set())
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  /** Subscribes to presence changes (with their source); returns the unsubscribe function. */
  onAwarenessChange(listener: (change: AwarenessChange<RoomPeer>) => void): () => void {
    const listeners = (this.awarenessListeners ??= new Set())
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  /**
   * Applies a peer's awareness update: only the ids it owns or may claim, with
   * relay clocks, states within the size cap (awareness-guard.ts). Returns how
   * many entries were dropped; throws ERR_AWARENESS_INVALID on garbage.
   */
  applyPeerAwareness(update: Uint8Array, peer: RoomPeer, limits: { maxIds: number; maxStateBytes: number }): number {
    return this.presence.applyFromPeer(update, peer, limits)
  }

  /** Applies an awareness update as it is, from a trusted source (another relay of the region); throws ERR_AWARENESS_INVALID on garbage. */
  applyAwareness(update: Uint8Array, source: AwarenessSource<RoomPeer>): void {
    this.presence.apply(update, source)
  }

  /** Removes presence states not renewed in time (the relay-wide sweep calls it; tests may too). */
  sweepAwareness(): void {
    this.presence.sweep()
  }

  /** The full awareness state as a message, or null when nobody is present. */
  encodeAwarenessState(): Uint8Array | null {
    const update = this.presence.encodeAll()
    return update === null ? null : encodeMessage({ type: 'awareness', update })
  }

  /** Resolves when every change made so far is durable; rejects (ERR_STORAGE_WRITE) if one could not be stored. */
  whenCommitted(): Promise<void> {
    return this.writes.committed
  }

  /** False once the room left memory (evicted, discarded after a failure, relay closed). */
  get live(): boolean {
    return !this.destroyed && !this.broken && !this.storageFailed
  }

  /** Resolves when every change made so far is committed (failures included: they are reported to peers). */
  flush(): Promise<void> {
    return this.writes.committed.catch(() => undefined).then(() => this.compaction.inFlight ?? undefined)
  }

  /** Folds stored updates into a snapshot (room-compaction.ts); a broken room is never compacted. */
  compact(): Promise<void> {
    return this.broken ? Promise.resolve() : this.compaction.run()
  }

  /** Stored updates not yet folded into a snapshot (as far as this relay knows). */
  get uncompactedUpdates(): number {
    return this.compaction.uncompacted
  }

  /** The in-memory document as a snapshot, or null when memory cannot stand for storage. */
  private memoryState(): { snapshot: Uint8Array; stateVector: Uint8Array } | null {
    if (this.destroyed || this.broken || hasPending(this.doc) || isWedged(this.doc)) return null
    return { snapshot: (this.fullState ??= Y.encodeStateAsUpdate(this.doc)), stateVector: Y.encodeStateVector(this.doc) }
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.doc.off('update', this.onDocUpdate)
    this.presence.destroy()
    this.doc.destroy()
    this.peers.clear()
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    this.fullState = null
    this.diffs.clear()
    if (origin === LOAD_ORIGIN) return
    if (this.current !== null) {
      this.produced.push(update)
      return
    }
    // Only applyUpdate may change the document; a change from anywhere else has no source to
    // decide by. Kept (stored and sent, never lost) as the relay's own, and reported as a bug.
    this.log.error('document changed outside applyUpdate; stored as a server change')
    this.accept(update, { kind: 'server', actor: 'unattributed' })
  }

  /** One change of `source`: stored (unless already in storage), broadcast, told to listeners. */
  private accept(update: Uint8Array, source: ChangeSource): void {
    if (isStoredHere(source)) this.writes.add(update)
    if (this.peers.size > 0) this.outbox.push({ message: encodeMessage({ type: 'sync-update', update }), except: broadcastExcept(source) })
    this.endOfTurn()
    this.changedBytes += update.length
    if (this.changeListeners === null || this.changeListeners.size === 0) return
    const change: RoomChange = { update, source, committed: this.writes.committed }
    for (const listener of this.changeListeners) {
      try {
        listener(change)
      } catch (err) {
        this.log.error({ err }, 'room change listener threw')
      }
    }
  }

  /** Every presence change goes to every peer (its sender too, as y-websocket does) and to listeners. */
  private readonly onPresenceChange = (change: AwarenessChange<RoomPeer>): void => {
    if (this.peers.size > 0) {
      // In the turn's broadcast, so it keeps its place among the document updates.
      this.outbox.push({ message: encodeMessage({ type: 'awareness', update: change.update }), except: null })
      this.endOfTurn()
    }
    if (this.awarenessListeners === null) return
    for (const listener of this.awarenessListeners) {
      try {
        listener(change)
      } catch (err) {
        this.log.error({ err }, 'room awareness listener threw')
      }
    }
  }

  private endOfTurn(): void {
    if (this.turnScheduled) return
    this.turnScheduled = true
    queueMicrotask(this.onTurnEnd)
  }

  /** Broadcast first (the changes reach the peers before the commit's fsync), then commit. */
  private readonly onTurnEnd = (): void => {
    this.turnScheduled = false
    try {
      this.flushBroadcast()
    } catch (err) {
      this.log.error({ err }, 'broadcast failed')
    }
    this.writes.commit()
  }

  private flushBroadcast(): void {
    const entries = this.outbox
    if (entries.length === 0) return
    this.outbox = []
    if (this.peers.size > 0) sendTurn(entries, [...this.peers], this.options.metrics)
  }

  private readonly onCommitted = (seqs: readonly number[]): void => {
    this.compaction.noteStored(seqs)
  }

  private readonly onWriteFailed = (cause: unknown): RelayError => {
    const error = new RelayError('ERR_STORAGE_WRITE', this.name, { cause })
    this.log.error({ err: cause }, 'storage append failed; disconnecting peers so they resync')
    // Memory now holds a change storage does not: drop every peer, whose
    // clients keep the change unacknowledged and resend it on reconnect.
    for (const peer of [...this.peers]) peer.fail(error)
    this.storageFailed = true
    this.options.onStorageFailure?.(this)
    return error
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
