import * as Y from 'yjs'
import type { Logger } from 'pino'
import { applyStoredDocument, type StorageAdapter } from '@meridian/storage'
import { createSystemClock, type Clock } from '@meridian/policy'
import { encodeMessage } from '@meridian/protocol'
import { RelayError } from './errors.js'
import { Broadcast, type BroadcastEntry } from './broadcast.js'
import { labelOfEncoded, type MessageLabel, type RelayMetrics } from './metrics.js'
import { broadcastExcept, isStoredHere, type ChangeSource } from './change-source.js'
import { DeleteLog } from './delete-log.js'
import { AwarenessSweeper, RoomPresence, type AwarenessChange, type AwarenessSource } from './room-presence.js'
import { WriteQueue } from './room-writes.js'
import { hasPending } from './yjs-internals.js'
import { compactFromStorage } from './room-compaction.js'

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
  /** Made on the first log line (see `log`). */
  private logger: Logger | null = null
  private readonly peers = new Set<RoomPeer>()
  private readonly presence: RoomPresence<RoomPeer>
  private readonly writes: WriteQueue
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
  private awarenessListeners: Set<(change: AwarenessChange<RoomPeer>) => void> | null = null
  /**
   * Bytes of every change to the document so far (the updates `onChange`
   * listeners get), for size estimates that need no listener: see DocSizeGuard.
   */
  changedBytes = 0
  /** The whole document encoded once, for every joiner that has nothing yet; dropped on change. */
  private fullState: Uint8Array | null = null
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
  /** Set while the room is being evicted; acquirers wait for it and load afresh. */
  evicting: Promise<void> | null = null

  private constructor(name: string, doc: Y.Doc, storedUpdates: number, coveredSeq: number, options: RoomOptions) {
    this.name = name
    this.doc = doc
    this.options = options
    this.storedUpdates = storedUpdates
    this.coveredSeq = coveredSeq
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
    const doc = new Y.Doc({ gc: true })
    try {
      applyStoredDocument(doc, stored, LOAD_ORIGIN)
    } catch (cause) {
      doc.destroy()
      throw new RelayError('ERR_DOC_CORRUPT', name, { cause })
    }
    const coveredSeq = stored === null ? 0 : (stored.updates.at(-1)?.seq ?? stored.snapshotSeq)
    return new Room(name, doc, stored?.updates.length ?? 0, coveredSeq, options)
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
    if (!this.destroyed) this.presence.peerLeft(peer)
  }

  /**
   * Applies an update from `source`. Whatever the document gained is one change
   * of that source: stored unless the source already stored it (the region's
   * shared storage), broadcast to every peer but the one it came from, and told
   * to `onChange` listeners. Resolves once it is committed to storage (the
   * moment a Meridian client may be acknowledged); rejects with
   * ERR_UPDATE_INVALID if Yjs cannot read it, or ERR_STORAGE_WRITE.
   */
  applyUpdate(update: Uint8Array, source: ChangeSource): Promise<void> {
    if (this.destroyed) return Promise.reject(new RelayError('ERR_RELAY_CLOSED'))
    let failure: RelayError | null = null
    this.current = source
    try {
      Y.applyUpdate(this.doc, update)
    } catch (cause) {
      // Yjs reads all structs before integrating; whatever it did integrate was
      // emitted as a re-encoded update and is kept like any other change.
      failure = new RelayError('ERR_UPDATE_INVALID', undefined, { cause })
    } finally {
      this.current = null
    }
    const produced = this.produced
    this.produced = []
    for (const change of produced) this.accept(change, source)
    return failure !== null ? Promise.reject(failure) : this.writes.committed
  }

  /**
   * What a peer with state vector `stateVector` lacks. A joiner with an empty
   * document gets the same bytes as every other such joiner, encoded once per
   * change rather than once per joiner.
   */
  diffFor(stateVector: Uint8Array): Uint8Array {
    if (stateVector.length === 1 && stateVector[0] === 0) {
      this.fullState ??= Y.encodeStateAsUpdate(this.doc)
      return this.fullState
    }
    return Y.encodeStateAsUpdate(this.doc, stateVector)
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

  /** Applies an awareness update; throws ERR_AWARENESS_INVALID on garbage. */
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

  /** Resolves when every change made so far is committed (failures included: they are reported to peers). */
  flush(): Promise<void> {
    return this.writes.committed.catch(() => undefined).then(() => this.compaction ?? undefined)
  }

  /**
   * Folds stored updates into a snapshot. When every stored update is known to
   * be in memory (`coveredSeq`), the snapshot is the in-memory document, encoded
   * without waiting for anything; otherwise (shared storage) it is rebuilt from
   * storage's own content.
   */
  compact(): Promise<void> {
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
    if (this.coveredSeq < 0 || this.destroyed || hasPending(this.doc)) return false
    const throughSeq = this.coveredSeq
    const folded = this.storedUpdates
    if (throughSeq === 0 || folded === 0) return true
    // May hold more than the updates up to throughSeq (changes not committed yet): they are stored
    // again after it, and applying them twice changes nothing.
    this.fullState ??= Y.encodeStateAsUpdate(this.doc)
    await this.options.storage.compact(this.name, this.fullState, throughSeq)
    this.storedUpdates = Math.max(0, this.storedUpdates - folded)
    return true
  }

  private async compactFromStorage(): Promise<void> {
    await this.writes.committed.catch(() => undefined)
    const folded = await compactFromStorage(this.options.storage, this.name, this.log)
    this.storedUpdates = Math.max(0, this.storedUpdates - folded)
  }

  /** Stored updates not yet folded into a snapshot (as far as this relay knows). */
  get uncompactedUpdates(): number {
    return this.storedUpdates
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
    if (this.peers.size === 0) return
    const broadcast = new Broadcast(entries)
    let recipients = 0
    let partial: Set<object> | null = null
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
      const n = e.except !== null && partial !== null && partial.has(e.except) ? recipients - 1 : recipients
      if (n === 0) continue
      const label = labelOfEncoded(e.message)
      let c = counts.get(label)
      if (c === undefined) counts.set(label, (c = { messages: 0, bytes: 0 }))
      c.messages += n
      c.bytes += n * e.message.length
    }
    for (const [type, c] of counts) metrics.messagesOut(type, c.messages, c.bytes)
  }

  private readonly onCommitted = (seqs: readonly number[]): void => {
    // Memory covers storage up to our last seq only while our seqs follow on from each other.
    for (const seq of seqs) {
      if (this.coveredSeq < 0) break
      this.coveredSeq = seq === this.coveredSeq + 1 ? seq : -1
    }
    this.storedUpdates += seqs.length
    if (this.storedUpdates >= this.options.compactAfterUpdates) void this.compact()
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
