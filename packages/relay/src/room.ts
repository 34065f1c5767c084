import * as Y from 'yjs'
import type { Logger } from 'pino'
import { createSystemClock } from '@meridian/base'
import { encodeMessage } from '@meridian/protocol'
import { RelayError } from './errors.js'
import { updateFrom, type ChangeSource, type UpdateFrom } from './change-source.js'
import { isHistoryDocName } from '@meridian/history'
import { refuseHistoryRewrites } from './history/append-only.js'
import { DeleteLog } from './delete-log.js'
import { AwarenessSweeper, RoomPresence, type AwarenessChange, type AwarenessSource } from './room-presence.js'
import { WriteQueue } from './room-writes.js'
import { hasPending, isWedged } from './yjs-internals.js'
import type { RoomPeer } from './room-peer.js'
import { DEFAULT_UPDATE_LIMITS, inspectUpdate, type UpdateInspection, type UpdateLimits } from './update-guard.js'
import { RoomCompaction } from './room-compaction.js'
import { JoinerEncodings, type DiffFlavor } from './room-encodings.js'
import { RoomTurn } from './room-turn.js'
import { applyAs, ChangeCapture } from './room-apply.js'
import { ListenerSet } from './listener-set.js'
import { LOAD_ORIGIN, loadDocument, type LoadedDocument } from './room-load.js'
import { RoomChanges } from './room-changes.js'
import type { RoomChangeListener, RoomOptionsOf } from './room-options.js'

export type { RoomPeer } from './room-peer.js'
export type { RoomChange, RoomChangeListener } from './room-options.js'

const ROOM_CLOCK = createSystemClock({ unref: true })

/** What every room is built with (room-options.ts). */
export type RoomOptions = RoomOptionsOf<Room>

/**
 * One document in memory: its Y.Doc, presence, the peers connected to it and
 * an ordered write queue to storage. `applyUpdate(update, source)` is the one
 * way in: what the document gained is one change of that source, stored
 * unless the source already stored it (change-source.ts), broadcast
 * once-encoded to every peer but the one it came from, and told to `onChange`
 * listeners (the mesh, the region bus) with a promise of its commit.
 *
 * Broadcast and commit happen at the end of the event-loop turn (room-turn.ts).
 * A change resolves (`applyUpdate`, `committed`) when the commit that covers
 * it is durable. The Yjs side of applying is room-apply.ts, what a change
 * does room-changes.ts, loading room-load.ts, the encodings for joiners
 * room-encodings.ts.
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
  private readonly turn: RoomTurn
  private readonly compaction: RoomCompaction
  private readonly changes: RoomChanges<Room>
  /** Made on the first subscription (the region bus). */
  private awarenessListeners: ListenerSet<AwarenessChange<RoomPeer>> | null = null
  /** Bytes loaded from storage (snapshot and updates): with `changedBytes`, the memory budget's measure (memory-budget.ts). */
  readonly loadedBytes: number
  /** Encodings for joiners; dropped on change. */
  private readonly encodings: JoinerEncodings
  private holds = 0
  private destroyed = false
  /** The source of the change running now and what Yjs emitted during it. */
  private readonly capture = new ChangeCapture()
  /** Recent deletions, for the digest exchange's `recent` replies; started by the first client that can use it. */
  private deletes: DeleteLog | null = null
  /** A write failed: this room's memory may hold changes storage does not. */
  storageFailed = false
  /** Applying an update failed inside Yjs: memory is not to be trusted, never compacted (see markBroken). */
  broken = false
  /** Set while the room is being evicted; acquirers wait for it and load afresh. */
  evicting: Promise<void> | null = null

  private constructor(name: string, { doc, storedUpdates, coveredSeq, loadedBytes }: LoadedDocument, options: RoomOptions) {
    this.name = name
    this.doc = doc
    this.options = options
    this.loadedBytes = loadedBytes
    this.encodings = new JoinerEncodings(doc)
    this.appendOnly = isHistoryDocName(name)
    // The parts are handed the room and the options every room shares, not closures over them (per-room memory).
    this.writes = new WriteQueue(options.storage, name, { committed: this.onCommitted, failed: this.onWriteFailed })
    this.compaction = new RoomCompaction(this, options, this.writes, storedUpdates, coveredSeq)
    const clock = options.clock ?? ROOM_CLOCK
    this.presence = new RoomPresence(doc, clock, options.sweeper ?? new AwarenessSweeper(clock), this.onPresenceChange)
    this.turn = new RoomTurn(this, this.peers, this.writes, options.metrics)
    this.changes = new RoomChanges<Room>(this, options, this.writes, this.turn, this.peers)
    doc.on('update', this.onDocUpdate)
  }

  /** The room's logger, made when it first logs (most rooms never do). */
  get log(): Logger {
    return (this.logger ??= this.options.logger.child({ doc: this.name }))
  }

  /** Presence (y-protocols awareness), null until the first presence update; change it through `applyAwareness`. */
  get awareness(): RoomPresence<RoomPeer>['awareness'] {
    return this.presence.awareness
  }

  /**
   * Loads a document from storage. A storage failure or an update that cannot
   * be applied rejects: an empty document must never stand in for stored data.
   */
  static async load(name: string, options: RoomOptions): Promise<Room> {
    const loaded = await loadDocument(name, { storage: options.storage, logger: options.logger, limits: options.updateLimits ?? DEFAULT_UPDATE_LIMITS })
    return new Room(name, loaded, options)
  }

  /**
   * Bytes of every change to the document so far (the updates `onChange`
   * listeners get), for size estimates that need no listener: see DocSizeGuard.
   */
  get changedBytes(): number {
    return this.changes.bytes
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
    const outcome = applyAs(this.doc, this.capture, update, source)
    switch (outcome.kind) {
      case 'applied':
        return this.changes.acceptAll(outcome.produced, source)
      case 'invalid':
        return Promise.reject(new RelayError('ERR_UPDATE_INVALID', undefined, { cause: outcome.cause }))
      case 'broken':
        // Nothing of it is acknowledged, and the room leaves memory.
        return Promise.reject(this.markBroken(outcome.cause))
    }
  }

  /**
   * A change the relay makes itself (e.g. the revocations document): `edit`
   * runs in one transaction, and what it changed is one change of `source`,
   * stored, broadcast and told to listeners like any other. Resolves once committed.
   */
  transact(edit: (doc: Y.Doc) => void, source: ChangeSource): Promise<void> {
    if (this.destroyed || this.broken) return Promise.reject(new RelayError(this.broken ? 'ERR_DOC_BROKEN' : 'ERR_RELAY_CLOSED', this.name))
    const produced = this.capture.runAs(source, () => this.doc.transact(() => edit(this.doc)))
    return this.changes.acceptAll(produced, source)
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
  diffFor(stateVector: Uint8Array, flavor: DiffFlavor = 'all-deletes'): Uint8Array {
    const diff = this.encodings.diffFor(stateVector, flavor)
    this.options.onMemoryChange?.(this)
    return diff
  }

  /** Bytes of encodings kept for joiners (the full state and recent diffs). */
  get cachedBytes(): number {
    return this.encodings.bytes
  }

  /** The room's log of recent deletions (made on first use: only digest-capable clients need it). */
  deleteLog(): DeleteLog {
    return (this.deletes ??= new DeleteLog(this.doc, () => this.capture.clientNodeId()))
  }

  /** Subscribes to changes of this room's document; returns the unsubscribe function. */
  onChange(listener: RoomChangeListener): () => void {
    return this.changes.onChange(listener)
  }

  /** Subscribes to presence changes (with their source); returns the unsubscribe function. */
  onAwarenessChange(listener: (change: AwarenessChange<RoomPeer>) => void): () => void {
    this.awarenessListeners ??= new ListenerSet((err) => this.log.error({ err }, 'room awareness listener threw'))
    return this.awarenessListeners.add(listener)
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

  /** The full awareness state as a message, or null when nobody is present. */
  encodeAwarenessState(): Uint8Array | null {
    const update = this.presence.encodeAll()
    return update === null ? null : encodeMessage({ type: 'awareness', update })
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

  /** The in-memory document as a snapshot (for compaction), or null when memory cannot stand for storage. */
  memoryState(): { snapshot: Uint8Array; stateVector: Uint8Array } | null {
    if (this.destroyed || this.broken || hasPending(this.doc) || isWedged(this.doc)) return null
    const snapshot = this.encodings.full()
    this.options.onMemoryChange?.(this)
    return { snapshot, stateVector: Y.encodeStateVector(this.doc) }
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
    if (this.encodings.clear()) this.options.onMemoryChange?.(this)
    if (origin === LOAD_ORIGIN || this.capture.take(update)) return
    // Only applyUpdate may change the document; a change from anywhere else has no source to
    // decide by. Kept (stored and sent, never lost) as the relay's own, and reported as a bug.
    this.log.error('document changed outside applyUpdate; stored as a server change')
    this.changes.accept(update, { kind: 'server', actor: 'unattributed' })
  }

  /** Every presence change goes to every peer (its sender too, as y-websocket does) and to listeners. */
  private readonly onPresenceChange = (change: AwarenessChange<RoomPeer>): void => {
    if (this.peers.size > 0) {
      // In the turn's broadcast, so it keeps its place among the document updates.
      this.turn.broadcast(encodeMessage({ type: 'awareness', update: change.update }), null)
    }
    this.awarenessListeners?.emit(change)
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
