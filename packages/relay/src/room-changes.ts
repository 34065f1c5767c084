/**
 * What one change of a room's document does, decided by its source
 * (change-source.ts): stored unless the source already stored it, broadcast at
 * the end of the turn to every peer but the one it came from (room-turn.ts),
 * and told to `onChange` listeners (the mesh, the region bus) and to the room
 * manager's relay-wide listener (the change feed, automatic versions) as one
 * `RoomChange` with the promise of its commit.
 */
import { encodeMessage } from '@meridian/protocol'
import { broadcastExcept, isStoredHere, type ChangeSource } from './change-source.js'
import { ListenerSet } from './listener-set.js'
import type { RoomChange, RoomChangeListener } from './room-options.js'
import type { RoomPeer } from './room-peer.js'
import type { RoomTurn } from './room-turn.js'
import type { WriteQueue } from './room-writes.js'

export interface RoomChangesDeps<R> {
  /** The room these are the changes of (what `onAnyChange` is told). */
  readonly room: R
  readonly writes: WriteQueue
  readonly turn: RoomTurn
  readonly peers: ReadonlySet<RoomPeer>
  /** A listener threw (it does not stop the others). */
  listenerFailed(err: unknown): void
  /** `bytes` grew (the memory budget's measure). */
  grew(): void
  /** Every room's changes (room-options.ts `onChange`), told after this room's own listeners. */
  readonly onAnyChange: ((room: R, change: RoomChange) => void) | undefined
}

export class RoomChanges<R> {
  /** Bytes of every change so far (the updates listeners get). */
  bytes = 0
  /** Made on the first subscription (the region bus, the mesh); relay-wide watchers use `onAnyChange`. */
  private listeners: ListenerSet<RoomChange> | null = null

  constructor(private readonly deps: RoomChangesDeps<R>) {}

  /** Subscribes to the changes; returns the unsubscribe function. */
  onChange(listener: RoomChangeListener): () => void {
    return (this.listeners ??= new ListenerSet(this.deps.listenerFailed)).add(listener)
  }

  /** Accepts each change of `source`; resolves once committed (rejects with ERR_STORAGE_WRITE). */
  acceptAll(produced: readonly Uint8Array[], source: ChangeSource): Promise<void> {
    for (const change of produced) this.accept(change, source)
    return this.deps.writes.committed
  }

  /** One change of `source`: stored (unless already in storage), broadcast, told to listeners. */
  accept(update: Uint8Array, source: ChangeSource): void {
    const { writes, turn, peers } = this.deps
    if (isStoredHere(source)) writes.add(update)
    if (peers.size > 0) turn.broadcast(encodeMessage({ type: 'sync-update', update }), broadcastExcept(source))
    else turn.schedule() // the commit
    this.bytes += update.length
    this.deps.grew()
    const any = this.deps.onAnyChange
    const listeners = this.listeners
    if (listeners === null && any === undefined) return
    const change: RoomChange = { update, source, committed: writes.committed }
    listeners?.emit(change)
    if (any === undefined) return
    try {
      any(this.deps.room, change)
    } catch (err) {
      this.deps.listenerFailed(err)
    }
  }
}
