import { isHistoryDocName } from '@meridian/history'
import type { Logger } from 'pino'
import type { StorageAdapter } from '@meridian/storage'
import type { Clock, ClockTimer } from '@meridian/base'
import { RelayError } from './errors.js'
import { Room, type RoomChange, type RoomOptions } from './room.js'
import { AwarenessSweeper } from './room-presence.js'
import type { RelayMetrics } from './metrics.js'
import type { UpdateLimits } from './update-guard.js'
import { DEFAULT_MEMORY_BUDGET, DocumentMemoryBudget, type MemoryBudgetOptions } from './memory-budget.js'

export interface RoomManagerOptions {
  storage: StorageAdapter
  logger: Logger
  evictIdleAfterMs: number
  compactAfterUpdates: number
  clock: Clock
  /** Broadcasts are counted here. */
  metrics?: RelayMetrics
  /** Nesting and delete-set limits for every update (update-guard.ts). */
  updateLimits?: UpdateLimits
  /** The budget for documents in memory (memory-budget.ts); default DEFAULT_MEMORY_BUDGET. */
  memoryBudget?: MemoryBudgetOptions
}

/** The relay's own documents (no client may open them: see doc-name.ts). History documents are the users' data. */
export const isSystemDocument = (name: string): boolean => name.startsWith('_meridian/') && !isHistoryDocName(name)

/** The guard and the load run side by side (no extra round trip on a cold load); a refused load's room is destroyed. */
async function guardedLoad(guard: Promise<void>, load: Promise<Room>): Promise<Room> {
  const [allowed, loaded] = await Promise.allSettled([guard, load])
  if (allowed.status === 'rejected') {
    if (loaded.status === 'fulfilled') loaded.value.destroy()
    throw allowed.reason
  }
  if (loaded.status === 'rejected') throw loaded.reason
  return loaded.value
}

/** Compact on eviction only when enough updates piled up to be worth a write. */
const COMPACT_ON_EVICT_MIN_UPDATES = 16

/**
 * Loads rooms lazily (one load per document however many connect at once),
 * and evicts a room once it has been idle for `evictIdleAfterMs`: its writes are
 * flushed first, so eviction never loses anything.
 */
export class RoomManager {
  private readonly rooms = new Map<string, Promise<Room>>()
  /** The same rooms once loaded, for synchronous look-ups. */
  private readonly loaded = new Map<string, Room>()
  private readonly idleTimers = new Map<string, ClockTimer>()
  private readonly options: RoomManagerOptions
  private closed = false
  private readonly loadedListeners = new Set<(room: Room) => void>()
  private readonly evictedListeners = new Set<(room: Room) => void>()
  private readonly changeListeners = new Set<(room: Room, change: RoomChange) => void>()
  /** Runs before every load of a client document; a rejection refuses the load (deleted documents: docs/tombstones.ts). */
  private loadGuard: ((name: string) => Promise<void>) | null = null

  /** What every room is built with: one object for all of them (each room keeps it). */
  private readonly roomOptions: RoomOptions
  readonly memory: DocumentMemoryBudget

  constructor(options: RoomManagerOptions) {
    this.options = options
    this.memory = new DocumentMemoryBudget(options.memoryBudget ?? DEFAULT_MEMORY_BUDGET)
    const { storage, logger, clock, compactAfterUpdates, metrics } = options
    this.roomOptions = {
      storage,
      logger,
      clock,
      sweeper: new AwarenessSweeper(clock),
      compactAfterUpdates,
      ...(metrics !== undefined ? { metrics } : {}),
      onStorageFailure: (room) => this.discard(room, 'after a storage failure'),
      onBroken: (room) => this.discard(room, 'after applying an update failed'),
      onMemoryChange: (room) => this.memory.update(room),
      onChange: (room, change) => this.notifyChange(room, change),
      ...(options.updateLimits !== undefined ? { updateLimits: options.updateLimits } : {})
    }
  }

  /** Client documents in memory (the relay's own, such as its revocations, are not counted). */
  get loadedCount(): number {
    let n = 0
    for (const name of this.rooms.keys()) if (!isSystemDocument(name)) n++
    return n
  }

  /** Called once per room, right after it loaded (before any peer joins it). Returns the unsubscribe function. */
  onRoomLoaded(listener: (room: Room) => void): () => void {
    this.loadedListeners.add(listener)
    return () => this.loadedListeners.delete(listener)
  }

  /** Called once per room as it leaves memory (evicted or relay closing), after its writes were flushed. */
  onRoomEvicted(listener: (room: Room) => void): () => void {
    this.evictedListeners.add(listener)
    return () => this.evictedListeners.delete(listener)
  }

  /**
   * Called with every change of every room (as `room.onChange` listeners
   * are, after them): one subscription for the relay, none per room. Returns
   * the unsubscribe function.
   */
  onRoomChange(listener: (room: Room, change: RoomChange) => void): () => void {
    this.changeListeners.add(listener)
    return () => this.changeListeners.delete(listener)
  }

  /** Returns the loaded room for `name`, loading it if needed; the caller holds it until `release`. */
  async acquire(name: string): Promise<Room> {
    // Bounded: each pass either returns or waits out one eviction, which removes the entry.
    for (let attempt = 0; attempt < 8; attempt++) {
      if (this.closed) throw new RelayError('ERR_RELAY_CLOSED')
      let pending = this.rooms.get(name)
      if (pending === undefined) {
        if (!isSystemDocument(name)) await this.makeRoom()
        pending = this.rooms.get(name) // another acquire may have started it meanwhile
      }
      if (pending === undefined) {
        const guard = this.loadGuard
        pending = (guard === null || isSystemDocument(name) ? Room.load(name, this.roomOptions) : guardedLoad(guard(name), Room.load(name, this.roomOptions))).then((room) => {
          this.setLoaded(room)
          this.notify(this.loadedListeners, room)
          return room
        })
        const entry = pending
        this.rooms.set(name, entry)
        entry.catch(() => {
          if (this.rooms.get(name) === entry) this.rooms.delete(name)
        })
      }
      const room = await pending
      if (room.evicting !== null) {
        await room.evicting
        continue
      }
      this.cancelEviction(name)
      room.hold()
      return room
    }
    throw new RelayError('ERR_DOC_LOAD', `${name}: evicted repeatedly while loading`)
  }

  /** Sets the check every load of a client document passes first (one guard; a later call replaces it). */
  setLoadGuard(guard: (name: string) => Promise<void>): void {
    this.loadGuard = guard
  }

  /**
   * Takes a document out of memory now (it was deleted): its peers are failed
   * with `error`, what it had queued is flushed, and it leaves memory like an
   * evicted room. Resolves at once when it is not loaded. Acquirers waiting
   * meanwhile load it afresh (and meet the load guard).
   */
  async drop(name: string, error: RelayError): Promise<void> {
    const entry = this.rooms.get(name)
    if (entry === undefined) return
    const room = await entry.catch(() => null)
    if (room === null) return
    if (room.evicting !== null) {
      await room.evicting
      return
    }
    this.cancelEviction(name)
    room.failPeers(error)
    room.evicting = (async () => {
      await room.flush()
      // A session that acquired the room just before is failed too (later ones wait for the eviction and meet the guard).
      room.failPeers(error)
      await this.evict(room, false)
    })()
    await room.evicting
  }

  /** Estimated memory of the loaded documents (memory-budget.ts): a running total, not a sum over every room. */
  get memoryBytes(): number {
    return this.memory.trackedBytes
  }

  /** A room is in memory: found by name, counted in the budget. */
  private setLoaded(room: Room): void {
    const previous = this.loaded.get(room.name)
    if (previous !== undefined && previous !== room) this.memory.untrack(previous)
    this.loaded.set(room.name, room)
    this.memory.track(room)
  }

  /** A room left memory (a newer room of that name, if any, stays). */
  private unload(room: Room): void {
    if (this.loaded.get(room.name) === room) this.loaded.delete(room.name)
    this.memory.untrack(room)
  }

  /**
   * Before a load: if the budget is spent, evicts idle documents (idle
   * longest first) until it is not; if it still is, refuses (ERR_MEMORY_BUDGET,
   * a retryable close for the client).
   */
  private async makeRoom(): Promise<void> {
    let total = this.memoryBytes
    if (!this.memory.full(total)) return
    // The idle timers' insertion order is the order rooms went idle.
    for (const name of [...this.idleTimers.keys()]) {
      if (!this.memory.full(total)) break
      const room = this.loaded.get(name)
      if (room === undefined || !room.isIdle || room.evicting !== null) continue
      this.cancelEviction(name)
      total -= this.memory.estimate(room)
      room.evicting = this.evict(room)
      await room.evicting
    }
    if (this.memory.full(this.memoryBytes)) throw new RelayError('ERR_MEMORY_BUDGET')
  }

  /** The room if it is in memory and not being evicted. */
  getLoaded(name: string): Room | undefined {
    const room = this.loaded.get(name)
    return room !== undefined && room.evicting === null ? room : undefined
  }

  release(room: Room): void {
    room.release()
    if (room.isIdle) this.scheduleEviction(room)
  }

  /** Rooms currently in memory. */
  async loadedRooms(): Promise<Room[]> {
    const settled = await Promise.allSettled(this.rooms.values())
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
  }

  /** Flushes every room and releases them; no new room loads afterwards. */
  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.idleTimers.values()) this.options.clock.clearTimeout(timer)
    this.idleTimers.clear()
    const rooms = await this.loadedRooms()
    await Promise.all(rooms.map(async (room) => {
      await room.flush()
      this.notify(this.evictedListeners, room)
      room.destroy()
    }))
    this.rooms.clear()
    this.loaded.clear()
    this.memory.clear()
  }

  private notify(listeners: Set<(room: Room) => void>, room: Room): void {
    for (const listener of listeners) {
      try {
        listener(room)
      } catch (err) {
        this.options.logger.error({ err, doc: room.name }, 'room listener threw')
      }
    }
  }

  private notifyChange(room: Room, change: RoomChange): void {
    for (const listener of this.changeListeners) {
      try {
        listener(room, change)
      } catch (err) {
        this.options.logger.error({ err, doc: room.name }, 'room change listener threw')
      }
    }
  }

  private cancelEviction(name: string): void {
    const timer = this.idleTimers.get(name)
    if (timer !== undefined) {
      this.options.clock.clearTimeout(timer)
      this.idleTimers.delete(name)
    }
  }

  private scheduleEviction(room: Room): void {
    if (this.closed || room.evicting !== null) return
    this.cancelEviction(room.name)
    const timer = this.options.clock.setTimeout(() => {
      this.idleTimers.delete(room.name)
      if (!room.isIdle || room.evicting !== null) return
      room.evicting = this.evict(room)
    }, this.options.evictIdleAfterMs)
    this.idleTimers.set(room.name, timer)
  }

  /** Drops a room whose memory no longer matches storage, at once (no flush: that is what failed). */
  private discard(room: Room, why: string): void {
    if (room.evicting !== null) return
    this.cancelEviction(room.name)
    room.evicting = (async () => {
      const entry = this.rooms.get(room.name)
      if (entry !== undefined && (await entry.catch(() => null)) === room) this.rooms.delete(room.name)
      this.unload(room)
      this.notify(this.evictedListeners, room)
      room.destroy()
      this.options.logger.warn({ doc: room.name }, `document dropped from memory ${why}; it reloads from storage`)
    })()
  }

  private async evict(room: Room, compact = true): Promise<void> {
    try {
      await room.flush()
      if (compact && !room.broken && room.uncompactedUpdates >= COMPACT_ON_EVICT_MIN_UPDATES) await room.compact()
    } finally {
      const entry = this.rooms.get(room.name)
      if (entry !== undefined && (await entry.catch(() => null)) === room) this.rooms.delete(room.name)
      this.unload(room)
      this.notify(this.evictedListeners, room)
      room.destroy()
      this.options.logger.debug({ doc: room.name }, 'evicted idle document')
    }
  }
}
