import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import type { Logger } from 'pino'
import type { StorageAdapter } from '@meridian/storage'
import { createSystemClock, type Clock, type ClockTimer } from '@meridian/policy'
import { encodeMessage, encodeUpdateWithoutOldDeletes } from '@meridian/protocol'
import { EncodingCache, stateVectorKey } from './encoding-cache.js'
import { RelayError } from './errors.js'
import { Broadcast, type BroadcastEntry } from './broadcast.js'
import { labelOfEncoded, type MessageLabel, type RelayMetrics } from './metrics.js'
import { DEFAULT_UPDATE_LIMITS, inspectUpdate, type UpdateInspection, type UpdateLimits } from './update-guard.js'
import { replayStored, verifySnapshot } from './stored-replay.js'
import { hasPending, isWedged } from './yjs-internals.js'
import { AwarenessOwners } from './awareness-guard.js'

/** A connection as a room sees it. */
export interface RoomPeer {
  readonly id: string
  send(message: Uint8Array): void
  /**
   * The room's broadcast of one event-loop turn: every entry but those whose
   * `except` is this peer, in order. Returns whether the peer took it (false:
   * it is gone, or was dropped as a slow consumer). Without it, the room sends
   * the messages one by one.
   */
  deliver?(broadcast: Broadcast): boolean
  /** The room failed (storage write failed): the peer must disconnect so its client resyncs. */
  fail(error: RelayError): void
}

/** y-protocols' outdated timeout: a presence state not renewed for this long is removed. */
const AWARENESS_TIMEOUT_MS = 30_000
const ROOM_CLOCK = createSystemClock({ unref: true })

/**
 * The awareness sweep of every room on one clock that has presence states:
 * one interval for all of them (a timer per room is memory most rooms never
 * use), running only while some room has states.
 */
class AwarenessSweeper {
  private readonly rooms = new Set<Room>()
  private timer: ClockTimer | null = null

  constructor(private readonly clock: Clock) {}

  add(room: Room): void {
    this.rooms.add(room)
    this.timer ??= this.clock.setInterval(() => {
      for (const r of [...this.rooms]) r.sweepAwareness()
    }, AWARENESS_TIMEOUT_MS / 10)
  }

  delete(room: Room): void {
    this.rooms.delete(room)
    if (this.rooms.size > 0 || this.timer === null) return
    this.clock.clearInterval(this.timer)
    this.timer = null
  }
}

const SWEEPERS = new WeakMap<Clock, AwarenessSweeper>()

function sweeperFor(clock: Clock): AwarenessSweeper {
  let sweeper = SWEEPERS.get(clock)
  if (sweeper === undefined) SWEEPERS.set(clock, (sweeper = new AwarenessSweeper(clock)))
  return sweeper
}

export interface RoomOptions {
  storage: StorageAdapter
  logger: Logger
  /** Drives the awareness timeout sweep; default the system clock. */
  clock?: Clock
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
 * Told about every change to a room's document (not the replay from storage),
 * after the change was queued for storage: `committed` resolves once it is
 * durable. `origin` is what was passed to `applyUpdate` (a peer, a mesh link, a
 * bus…), so a listener can skip its own changes and never echo them back.
 */
export type RoomChangeListener = (change: { update: Uint8Array; origin: unknown; committed: Promise<void> }) => void

/** Origin of transactions that replay storage: they must not be persisted again. */
const LOAD_ORIGIN = Symbol('meridian-load')

interface Deferred {
  promise: Promise<void>
  resolve: () => void
  reject: (error: unknown) => void
}

function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (error: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // Failures reach callers through applyUpdate(); the promise itself must not be an unhandled rejection.
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}

/**
 * One document in memory: its Y.Doc, awareness, the peers connected to it and
 * an ordered write queue to storage. Every change to the doc — whatever its
 * origin — is broadcast once-encoded to every peer but the one it came from,
 * and appended to storage in order.
 *
 * Both happen at the end of the event-loop turn (a microtask: no timer, so a
 * simulated clock sees the same thing): the turn's broadcast goes out first,
 * framed once for all sockets (broadcast.ts), then the turn's changes are
 * committed together (group commit: `appendMany` when the adapter has it,
 * each change still its own stored update). While a commit is in flight the
 * next turns' changes wait and go in the following one. A change resolves
 * (`applyUpdate`, `committed`) when the commit that covers it is durable.
 */
export class Room {
  readonly name: string
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  private readonly options: RoomOptions
  /** Made on the first log line (see `log`). */
  private logger: Logger | null = null
  private readonly peers = new Set<RoomPeer>()
  /** Awareness client ids each peer owns (may set), removed when it leaves (awareness-guard.ts). */
  readonly awarenessOwners = new AwarenessOwners<RoomPeer>()
  /** Settles once every change queued so far is committed. */
  private writeTail: Promise<void> = Promise.resolve()
  /** Changes waiting for the next commit, and the promise that commit settles. */
  private queued: Uint8Array[] = []
  private queuedCommit: Deferred | null = null
  private writing = false
  /** Messages to broadcast at the end of this turn. */
  private outbox: BroadcastEntry[] = []
  private turnScheduled = false
  private storedUpdates: number
  /**
   * Every stored update with a seq up to this one is in memory (loaded, or
   * appended by this room after it was applied), or -1 when that is unknown
   * (another writer's seqs interleaved with ours: shared storage). While it
   * holds, compaction encodes the in-memory document instead of replaying
   * storage.
   */
  private coveredSeq: number
  private compaction: Promise<void> | null = null
  private changeListeners: Set<RoomChangeListener> | null = null
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
  private readonly clock: Clock
  /** When each present awareness client was last renewed (made with the first one). */
  private awarenessSeen: Map<number, number> | null = null
  /** Set while this room is in its clock's awareness sweep (it has presence states). */
  private sweeper: AwarenessSweeper | null = null
  /** Set during an `applyUpdate(..., { persist: false })`. */
  private inMemoryOnly = false
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
    this.storedUpdates = storedUpdates
    this.coveredSeq = coveredSeq
    this.awareness = new awarenessProtocol.Awareness(doc)
    // Awareness times states out on a real interval of its own: replaced by a sweep on the relay's clock
    // (a simulated clock must drive it too, and a room that is never destroyed must not keep a process alive).
    const own = this.awareness as unknown as { _checkInterval: ReturnType<typeof setInterval> | null }
    clearInterval(own._checkInterval ?? undefined)
    own._checkInterval = null
    this.clock = options.clock ?? ROOM_CLOCK
    // The relay itself has no presence.
    this.awareness.setLocalState(null)
    doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
  }

  /** The room's logger, made when it first logs (most rooms never do). */
  private get log(): Logger {
    return (this.logger ??= this.options.logger.child({ doc: this.name }))
  }

  /** Removes presence states not renewed for AWARENESS_TIMEOUT_MS (clients renew every 15 s), as y-protocols would. */
  sweepAwareness(): void {
    const now = this.clock.now()
    if (this.awarenessSeen === null || this.awarenessSeen.size === 0) return
    const stale = [...this.awarenessSeen].filter(([, at]) => now - at >= AWARENESS_TIMEOUT_MS).map(([id]) => id)
    if (stale.length > 0) awarenessProtocol.removeAwarenessStates(this.awareness, stale, 'timeout')
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
    const doc = new Y.Doc({ gc: true })
    if (stored !== null) {
      try {
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

  get peerCount(): number {
    return this.peers.size
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
    const ids = this.awarenessOwners.release(peer)
    if (ids.length > 0 && !this.destroyed) {
      awarenessProtocol.removeAwarenessStates(this.awareness, ids, null)
    }
  }

  /**
   * Applies an update from a peer. Resolves once everything it changed is
   * committed to storage (the moment a Meridian client may be acknowledged);
   * rejects with ERR_UPDATE_INVALID if Yjs cannot read it, or ERR_STORAGE_WRITE.
   */
  applyUpdate(update: Uint8Array, origin: unknown, options?: { persist?: boolean; inspection?: UpdateInspection }): Promise<void> {
    if (this.destroyed || this.broken) return Promise.reject(new RelayError(this.broken ? 'ERR_DOC_BROKEN' : 'ERR_RELAY_CLOSED', this.name))
    if (options?.inspection === undefined) {
      try {
        this.inspect(update)
      } catch (err) {
        return Promise.reject(err)
      }
    }
    // persist: false — the update is already in (shared) storage, e.g. from the region bus:
    // apply and broadcast it, but do not append it again.
    this.inMemoryOnly = options?.persist === false
    try {
      Y.applyUpdate(this.doc, update, origin)
    } catch (cause) {
      // It decoded (inspect), so the failure is inside Yjs' integration or cleanup: the doc may
      // hold changes never reported, or be wedged. Nothing of this update is acknowledged.
      return Promise.reject(this.markBroken(cause))
    } finally {
      this.inMemoryOnly = false
    }
    // A wedged doc applies later updates without reporting them: an ack now would be for a write never stored.
    if (isWedged(this.doc)) return Promise.reject(this.markBroken(new Error('a Yjs transaction cleanup failed')))
    return this.writeTail
  }

  /** Checks an update against the room's limits before it is applied (see update-guard.ts); throws a RelayError. */
  inspect(update: Uint8Array): UpdateInspection {
    return inspectUpdate(this.doc, update, this.updateLimits)
  }

  get updateLimits(): UpdateLimits {
    return this.options.updateLimits ?? DEFAULT_UPDATE_LIMITS
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

  /** Subscribes to changes of this room's document; returns the unsubscribe function. */
  onChange(listener: RoomChangeListener): () => void {
    const listeners = (this.changeListeners ??= new Set())
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  /**
   * Applies a peer's awareness update: only the ids it owns or may claim, with
   * relay clocks, states within the size cap (awareness-guard.ts). Returns how
   * many entries were dropped; throws ERR_AWARENESS_INVALID on garbage.
   */
  applyPeerAwareness(update: Uint8Array, peer: RoomPeer, limits: { maxIds: number; maxStateBytes: number }): number {
    try {
      const meta = this.awareness.meta
      const filtered = this.awarenessOwners.filter(update, peer, limits.maxIds, limits.maxStateBytes, (id) => meta.get(id)?.clock ?? 0)
      if (filtered.update !== null) awarenessProtocol.applyAwarenessUpdate(this.awareness, filtered.update, peer)
      return filtered.dropped
    } catch (cause) {
      throw new RelayError('ERR_AWARENESS_INVALID', undefined, { cause })
    }
  }

  /** Applies an awareness update as it is, from a trusted source (another relay of the region); throws ERR_AWARENESS_INVALID on garbage. */
  applyAwareness(update: Uint8Array, origin: unknown): void {
    try {
      awarenessProtocol.applyAwarenessUpdate(this.awareness, update, origin)
    } catch (cause) {
      throw new RelayError('ERR_AWARENESS_INVALID', undefined, { cause })
    }
  }

  /** The full awareness state, or null when nobody is present. */
  encodeAwarenessState(): Uint8Array | null {
    const clients = [...this.awareness.getStates().keys()]
    if (clients.length === 0) return null
    return encodeMessage({ type: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients) })
  }

  /** Resolves when every change made so far is durable; rejects (ERR_STORAGE_WRITE) if one could not be stored. */
  whenCommitted(): Promise<void> {
    return this.writeTail
  }

  /** False once the room left memory (evicted, discarded after a failure, relay closed). */
  get live(): boolean {
    return !this.destroyed && !this.broken && !this.storageFailed
  }

  /** Resolves when every change made so far is committed (failures included: they are reported to peers). */
  flush(): Promise<void> {
    return this.writeTail.catch(() => undefined).then(() => this.compaction ?? undefined)
  }

  /**
   * Folds stored updates into a snapshot. When every stored update is known to
   * be in memory (`coveredSeq`), the snapshot is the in-memory document, encoded
   * without waiting for anything; otherwise (shared storage) it is rebuilt from
   * storage's own content.
   */
  compact(): Promise<void> {
    if (this.broken) return Promise.resolve()
    if (this.compaction !== null) return this.compaction
    const run = async (): Promise<void> => {
      if (await this.compactFromMemory()) return
      await this.compactFromStorage()
    }
    this.compaction = run()
      .catch((err: unknown) => this.log.warn({ err }, 'compaction failed; updates stay as they are'))
      .finally(() => {
        this.compaction = null
      })
    return this.compaction
  }

  /** False when memory cannot stand for storage (unknown seqs, or structs waiting for dependencies). */
  private async compactFromMemory(): Promise<boolean> {
    if (this.coveredSeq < 0 || this.destroyed || this.broken || hasPending(this.doc) || isWedged(this.doc)) return false
    const throughSeq = this.coveredSeq
    const folded = this.storedUpdates
    if (throughSeq === 0 || folded === 0) return true
    // May hold more than the updates up to throughSeq (changes not committed yet): they are stored
    // again after it, and applying them twice changes nothing.
    const snapshot = (this.fullState ??= Y.encodeStateAsUpdate(this.doc))
    // Nothing is deleted unless the snapshot loads back to this very state.
    verifySnapshot(this.name, snapshot, Y.encodeStateVector(this.doc), this.updateLimits)
    await this.options.storage.compact(this.name, snapshot, throughSeq)
    this.storedUpdates = Math.max(0, this.storedUpdates - folded)
    return true
  }

  private async compactFromStorage(): Promise<void> {
    const { storage } = this.options
    await this.writeTail.catch(() => undefined)
    const stored = await storage.load(this.name)
    if (stored === null || stored.updates.length === 0) return
    const doc = new Y.Doc({ gc: true })
    try {
      const skipped = replayStored(doc, stored, null, { name: this.name, limits: this.updateLimits, logger: this.options.logger })
      const last = stored.updates[stored.updates.length - 1]
      if (last === undefined) return
      // A snapshot encodes integrated content only: stored updates that still wait for a
      // missing dependency (or were skipped) would be lost by folding them, so they stay as they are.
      if (hasPending(doc) || skipped > 0) {
        this.log.warn('stored updates have missing dependencies; not compacting')
        return
      }
      const snapshot = Y.encodeStateAsUpdate(doc)
      verifySnapshot(this.name, snapshot, Y.encodeStateVector(doc), this.updateLimits)
      await storage.compact(this.name, snapshot, last.seq)
      this.storedUpdates = Math.max(0, this.storedUpdates - stored.updates.length)
    } finally {
      doc.destroy()
    }
  }

  /** Stored updates not yet folded into a snapshot (as far as this relay knows). */
  get uncompactedUpdates(): number {
    return this.storedUpdates
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.doc.off('update', this.onDocUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    this.sweeper?.delete(this)
    this.sweeper = null
    this.awareness.destroy()
    this.doc.destroy()
    this.peers.clear()
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    this.fullState = null
    this.diffs.clear()
    if (origin === LOAD_ORIGIN) return
    if (!this.inMemoryOnly) this.persist(update)
    if (this.peers.size > 0) this.broadcast(encodeMessage({ type: 'sync-update', update }), origin)
    this.changedBytes += update.length
    if (this.changeListeners !== null && this.changeListeners.size > 0) {
      const committed = this.writeTail
      for (const listener of this.changeListeners) {
        try {
          listener({ update, origin, committed })
        } catch (err) {
          this.log.error({ err }, 'room change listener threw')
        }
      }
    }
  }

  /** Queues `message` for this turn's broadcast, to every peer but `origin`. */
  private broadcast(message: Uint8Array, origin: unknown): void {
    this.outbox.push({ message, except: origin })
    this.endOfTurn()
  }

  /** Queues a change for the next commit; `writeTail` settles once it is durable. */
  private persist(update: Uint8Array): void {
    this.queued.push(update)
    if (this.queuedCommit === null) {
      this.queuedCommit = deferred()
      this.writeTail = this.queuedCommit.promise
    }
    this.endOfTurn()
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
    this.startWrite()
  }

  private flushBroadcast(): void {
    const entries = this.outbox
    if (entries.length === 0) return
    this.outbox = []
    if (this.peers.size === 0) return
    const broadcast = new Broadcast(entries)
    let recipients = 0
    let partial: Set<RoomPeer> | null = null
    for (const peer of [...this.peers]) {
      let took: boolean
      if (peer.deliver !== undefined) {
        took = peer.deliver(broadcast)
      } else {
        const messages = broadcast.messagesFor(peer)
        for (const m of messages) peer.send(m)
        took = messages.length > 0
      }
      if (!took) continue
      recipients++
      if (!broadcast.getsAll(peer)) (partial ??= new Set()).add(peer)
    }
    const metrics = this.options.metrics
    if (metrics === undefined || recipients === 0) return
    // Counted once per broadcast: per message type, how many sockets got it.
    const counts = new Map<MessageLabel, { messages: number; bytes: number }>()
    for (const e of entries) {
      const n = partial !== null && partial.has(e.except as RoomPeer) ? recipients - 1 : recipients
      if (n === 0) continue
      const label = labelOfEncoded(e.message)
      let c = counts.get(label)
      if (c === undefined) counts.set(label, (c = { messages: 0, bytes: 0 }))
      c.messages += n
      c.bytes += n * e.message.length
    }
    for (const [type, c] of counts) metrics.messagesOut(type, c.messages, c.bytes)
  }

  /** Commits everything queued, unless a commit is in flight (its completion starts the next). */
  private startWrite(): void {
    if (this.writing || this.queued.length === 0) return
    const batch = this.queued
    const commit = this.queuedCommit as Deferred
    this.queued = []
    this.queuedCommit = null
    this.writing = true
    this.appendAll(batch).then(
      (seqs) => {
        this.writing = false
        this.noteStored(seqs)
        this.storedUpdates += batch.length
        commit.resolve()
        if (this.storedUpdates >= this.options.compactAfterUpdates) void this.compact()
        this.startWrite()
      },
      (cause: unknown) => {
        this.writing = false
        const error = new RelayError('ERR_STORAGE_WRITE', this.name, { cause })
        this.log.error({ err: cause }, 'storage append failed; disconnecting peers so they resync')
        // Memory now holds a change storage does not: drop every peer, whose
        // clients keep the change unacknowledged and resend it on reconnect.
        for (const peer of [...this.peers]) peer.fail(error)
        this.storageFailed = true
        this.options.onStorageFailure?.(this)
        commit.reject(error)
        this.startWrite()
      }
    )
  }

  /** One commit for the batch: `appendMany` if the adapter has it, else appends one after the other. */
  private async appendAll(batch: readonly Uint8Array[]): Promise<number[]> {
    const { storage } = this.options
    if (batch.length === 1) return [await storage.append(this.name, batch[0] as Uint8Array)]
    if (typeof storage.appendMany === 'function') return storage.appendMany(this.name, batch)
    const seqs: number[] = []
    for (const update of batch) seqs.push(await storage.append(this.name, update))
    return seqs
  }

  /** Memory covers storage up to our last seq only while our seqs follow on from each other. */
  private noteStored(seqs: readonly number[]): void {
    for (const seq of seqs) {
      if (this.coveredSeq < 0) return
      this.coveredSeq = seq === this.coveredSeq + 1 ? seq : -1
    }
  }

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }
  ): void => {
    const changed = [...added, ...updated, ...removed]
    if (changed.length === 0) return
    const now = this.clock.now()
    const seen = (this.awarenessSeen ??= new Map())
    for (const id of added) seen.set(id, now)
    for (const id of updated) seen.set(id, now)
    for (const id of removed) seen.delete(id)
    if (seen.size > 0 && this.sweeper === null && !this.destroyed) (this.sweeper = sweeperFor(this.clock)).add(this)
    else if (seen.size === 0 && this.sweeper !== null) {
      this.sweeper.delete(this)
      this.sweeper = null
    }
    if (this.peers.size === 0) return
    // In the turn's broadcast, so it keeps its place among the document updates.
    this.broadcast(encodeMessage({ type: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed) }), null)
  }
}
