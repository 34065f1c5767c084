/**
 * What one change of a room's document does, decided by its source
 * (change-source.ts): stored unless the source already stored it, broadcast at
 * the end of the turn to every peer but the one it came from (room-turn.ts),
 * and told to `onChange` listeners (the mesh, the region bus) as one
 * `RoomChange` with the promise of its commit.
 */
import { encodeMessage } from '@meridian/protocol'
import { broadcastExcept, isStoredHere, type ChangeSource } from './change-source.js'
import { ListenerSet } from './listener-set.js'
import type { RoomChange, RoomChangeListener } from './room-options.js'
import type { RoomPeer } from './room-peer.js'
import type { RoomTurn } from './room-turn.js'
import type { WriteQueue } from './room-writes.js'

export interface RoomChangesDeps {
  readonly writes: WriteQueue
  readonly turn: RoomTurn
  readonly peers: ReadonlySet<RoomPeer>
  /** A listener threw (it does not stop the others). */
  listenerFailed(err: unknown): void
  /** `bytes` grew (the memory budget's measure). */
  grew(): void
}

export class RoomChanges {
  /** Bytes of every change so far (the updates listeners get). */
  bytes = 0
  private readonly listeners: ListenerSet<RoomChange>

  constructor(private readonly deps: RoomChangesDeps) {
    this.listeners = new ListenerSet(deps.listenerFailed)
  }

  /** Subscribes to the changes; returns the unsubscribe function. */
  onChange(listener: RoomChangeListener): () => void {
    return this.listeners.add(listener)
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
    if (!this.listeners.isEmpty) this.listeners.emit({ update, source, committed: writes.committed })
  }
}
