/**
 * What one change of a room's document does, decided by its source
 * (change-source.ts): stored unless the source already stored it, broadcast at
 * the end of the turn to every peer but the one it came from (room-turn.ts),
 * and told to `onChange` listeners (the mesh, the region bus) and to the room
 * manager's relay-wide listener (the change feed, automatic versions) as one
 * `RoomChange` with the promise of its commit.
 */
import type { Logger } from 'pino'
import { encodeMessage } from '@meridian/protocol'
import { broadcastExcept, isStoredHere, type ChangeSource } from './change-source.js'
import { ListenerSet } from './listener-set.js'
import type { RoomChange, RoomChangeListener, RoomOptionsOf } from './room-options.js'
import type { RoomPeer } from './room-peer.js'
import type { RoomTurn } from './room-turn.js'
import type { WriteQueue } from './room-writes.js'

/** What the changes need of their room (`R`: what relay-wide listeners are told). */
export interface ChangesRoom {
  readonly name: string
  /** The room's logger (made on first use). */
  readonly log: Logger
}

export class RoomChanges<R extends ChangesRoom> {
  /** Bytes of every change so far (the updates listeners get). */
  bytes = 0
  /** Made on the first subscription (the region bus, the mesh); relay-wide watchers use `shared.onChange`. */
  private listeners: ListenerSet<RoomChange> | null = null

  /**
   * `shared`: the options every room of the relay shares, whose
   * `onMemoryChange` is told when `bytes` grew and `onChange` every change
   * (after this room's own listeners). Referenced, not wrapped in closures:
   * this is per-room memory.
   */
  constructor(
    private readonly room: R,
    private readonly shared: Pick<RoomOptionsOf<R>, 'onMemoryChange' | 'onChange'>,
    private readonly writes: WriteQueue,
    private readonly turn: RoomTurn,
    private readonly peers: ReadonlySet<RoomPeer>
  ) {}

  /** Subscribes to the changes; returns the unsubscribe function. */
  onChange(listener: RoomChangeListener): () => void {
    return (this.listeners ??= new ListenerSet((err) => this.listenerFailed(err))).add(listener)
  }

  /** Accepts each change of `source`; resolves once committed (rejects with ERR_STORAGE_WRITE). */
  acceptAll(produced: readonly Uint8Array[], source: ChangeSource): Promise<void> {
    for (const change of produced) this.accept(change, source)
    return this.writes.committed
  }

  /** One change of `source`: stored (unless already in storage), broadcast, told to listeners. */
  accept(update: Uint8Array, source: ChangeSource): void {
    const { writes, turn, peers, shared } = this
    if (isStoredHere(source)) writes.add(update)
    if (peers.size > 0) turn.broadcast(encodeMessage({ type: 'sync-update', update }), broadcastExcept(source))
    else turn.schedule() // the commit
    this.bytes += update.length
    shared.onMemoryChange?.(this.room)
    const any = shared.onChange
    const listeners = this.listeners
    if (listeners === null && any === undefined) return
    const change: RoomChange = { update, source, committed: writes.committed }
    listeners?.emit(change)
    if (any === undefined) return
    try {
      any(this.room, change)
    } catch (err) {
      this.listenerFailed(err)
    }
  }

  /** A listener threw (it does not stop the others). */
  private listenerFailed(err: unknown): void {
    this.room.log.error({ err }, 'room change listener threw')
  }
}
