import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import type { Logger } from 'pino'
import type { StorageAdapter } from '@meridian/storage'
import { encodeMessage } from '@meridian/protocol'
import { RelayError } from './errors.js'

/** A connection as a room sees it. */
export interface RoomPeer {
  readonly id: string
  send(message: Uint8Array): void
  /** The room failed (storage write failed): the peer must disconnect so its client resyncs. */
  fail(error: RelayError): void
}

export interface RoomOptions {
  storage: StorageAdapter
  logger: Logger
  compactAfterUpdates: number
  /**
   * A change could not be stored: memory now holds what storage does not, so
   * the room must leave memory (the next load is from storage, and clients
   * resend what was lost, since their resend is a diff against the relay's state).
   */
  onStorageFailure?: (room: Room) => void
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

/**
 * One document in memory: its Y.Doc, awareness, the peers connected to it and
 * an ordered write queue to storage. Every change to the doc — whatever its
 * origin — is appended to storage in order and broadcast once-encoded to every
 * peer but the one it came from.
 */
export class Room {
  readonly name: string
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  private readonly options: RoomOptions
  private readonly log: Logger
  private readonly peers = new Set<RoomPeer>()
  /** Awareness client ids each peer controls, removed when it leaves. */
  private readonly awarenessIds = new Map<RoomPeer, Set<number>>()
  private writeTail: Promise<void> = Promise.resolve()
  private storedUpdates: number
  private compaction: Promise<void> | null = null
  private readonly changeListeners = new Set<RoomChangeListener>()
  /** The whole document encoded once, for every joiner that has nothing yet; dropped on change. */
  private fullState: Uint8Array | null = null
  private holds = 0
  private destroyed = false
  /** Set during an `applyUpdate(..., { persist: false })`. */
  private inMemoryOnly = false
  /** A write failed: this room's memory may hold changes storage does not. */
  storageFailed = false
  /** Set while the room is being evicted; acquirers wait for it and load afresh. */
  evicting: Promise<void> | null = null

  private constructor(name: string, doc: Y.Doc, storedUpdates: number, options: RoomOptions) {
    this.name = name
    this.doc = doc
    this.options = options
    this.storedUpdates = storedUpdates
    this.log = options.logger.child({ doc: name })
    this.awareness = new awarenessProtocol.Awareness(doc)
    // The relay itself has no presence.
    this.awareness.setLocalState(null)
    doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
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
        doc.transact(() => {
          if (stored.snapshot !== null) Y.applyUpdate(doc, stored.snapshot, LOAD_ORIGIN)
          for (const u of stored.updates) Y.applyUpdate(doc, u.data, LOAD_ORIGIN)
        }, LOAD_ORIGIN)
      } catch (cause) {
        doc.destroy()
        throw new RelayError('ERR_DOC_CORRUPT', name, { cause })
      }
    }
    return new Room(name, doc, stored?.updates.length ?? 0, options)
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
    const ids = this.awarenessIds.get(peer)
    this.awarenessIds.delete(peer)
    if (ids !== undefined && ids.size > 0 && !this.destroyed) {
      awarenessProtocol.removeAwarenessStates(this.awareness, [...ids], null)
    }
  }

  /**
   * Applies an update from a peer. Resolves once everything it changed is
   * committed to storage (the moment a Meridian client may be acknowledged);
   * rejects with ERR_UPDATE_INVALID if Yjs cannot read it, or ERR_STORAGE_WRITE.
   */
  applyUpdate(update: Uint8Array, origin: unknown, options?: { persist?: boolean }): Promise<void> {
    if (this.destroyed) return Promise.reject(new RelayError('ERR_RELAY_CLOSED'))
    // persist: false — the update is already in (shared) storage, e.g. from the region bus:
    // apply and broadcast it, but do not append it again.
    this.inMemoryOnly = options?.persist === false
    try {
      Y.applyUpdate(this.doc, update, origin)
    } catch (cause) {
      // Yjs reads all structs before integrating; whatever it did integrate was
      // emitted as a re-encoded update and is persisted like any other change.
      return Promise.reject(new RelayError('ERR_UPDATE_INVALID', undefined, { cause }))
    } finally {
      this.inMemoryOnly = false
    }
    return this.writeTail
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

  /** Subscribes to changes of this room's document; returns the unsubscribe function. */
  onChange(listener: RoomChangeListener): () => void {
    this.changeListeners.add(listener)
    return () => this.changeListeners.delete(listener)
  }

  /** Applies an awareness update; throws ERR_AWARENESS_INVALID on garbage. */
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

  /** Resolves when every change made so far is committed (failures included: they are reported to peers). */
  flush(): Promise<void> {
    return this.writeTail.catch(() => undefined).then(() => this.compaction ?? undefined)
  }

  /** Folds stored updates into a snapshot, from storage's own content (safe when storage is shared). */
  compact(): Promise<void> {
    if (this.compaction !== null) return this.compaction
    const { storage } = this.options
    const run = async (): Promise<void> => {
      await this.writeTail.catch(() => undefined)
      const stored = await storage.load(this.name)
      if (stored === null || stored.updates.length === 0) return
      const doc = new Y.Doc({ gc: true })
      try {
        if (stored.snapshot !== null) Y.applyUpdate(doc, stored.snapshot)
        for (const u of stored.updates) Y.applyUpdate(doc, u.data)
        const last = stored.updates[stored.updates.length - 1]
        if (last === undefined) return
        // A snapshot encodes integrated content only: stored updates that still wait for a
        // missing dependency would be lost by folding them, so they stay as they are.
        const store = doc.store as unknown as { pendingStructs: unknown; pendingDs: unknown }
        if (store.pendingStructs !== null || store.pendingDs !== null) {
          this.log.warn('stored updates have missing dependencies; not compacting')
          return
        }
        await storage.compact(this.name, Y.encodeStateAsUpdate(doc), last.seq)
        this.storedUpdates = Math.max(0, this.storedUpdates - stored.updates.length)
      } finally {
        doc.destroy()
      }
    }
    this.compaction = run()
      .catch((err: unknown) => this.log.warn({ err }, 'compaction failed; updates stay as they are'))
      .finally(() => {
        this.compaction = null
      })
    return this.compaction
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
    this.awareness.destroy()
    this.doc.destroy()
    this.peers.clear()
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    this.fullState = null
    if (origin === LOAD_ORIGIN) return
    if (!this.inMemoryOnly) this.persist(update)
    const message = encodeMessage({ type: 'sync-update', update })
    for (const peer of this.peers) {
      if (peer !== origin) peer.send(message)
    }
    if (this.changeListeners.size > 0) {
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

  private persist(update: Uint8Array): void {
    const { storage, compactAfterUpdates } = this.options
    const write = this.writeTail.then(
      () => storage.append(this.name, update),
      () => storage.append(this.name, update)
    )
    this.writeTail = write.then(
      () => {
        this.storedUpdates++
        if (this.storedUpdates >= compactAfterUpdates) void this.compact()
      },
      (cause: unknown) => {
        const error = new RelayError('ERR_STORAGE_WRITE', this.name, { cause })
        this.log.error({ err: cause }, 'storage append failed; disconnecting peers so they resync')
        // Memory now holds a change storage does not: drop every peer, whose
        // clients keep the change unacknowledged and resend it on reconnect.
        for (const peer of [...this.peers]) peer.fail(error)
        this.storageFailed = true
        this.options.onStorageFailure?.(this)
        throw error
      }
    )
    // Failures reach callers through applyUpdate(); the tail itself must not be an unhandled rejection.
    this.writeTail.catch(() => undefined)
  }

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown
  ): void => {
    const changed = [...added, ...updated, ...removed]
    if (changed.length === 0) return
    if (origin !== null && typeof origin === 'object' && this.peers.has(origin as RoomPeer)) {
      const peer = origin as RoomPeer
      let ids = this.awarenessIds.get(peer)
      if (ids === undefined) this.awarenessIds.set(peer, (ids = new Set()))
      for (const id of added) ids.add(id)
      for (const id of updated) ids.add(id)
      for (const id of removed) ids.delete(id)
    }
    const message = encodeMessage({ type: 'awareness', update: awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed) })
    for (const peer of this.peers) peer.send(message)
  }
}
