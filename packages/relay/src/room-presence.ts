/**
 * A room's presence (y-protocols awareness): who set which awareness client
 * ids, the timeout sweep on the relay's clock, and one typed source per change
 * so that the room's broadcast and the region bus decide by `switch`, not by
 * comparing transaction origins.
 */
import * as awarenessProtocol from 'y-protocols/awareness'
import type * as Y from 'yjs'
import type { Clock, ClockTimer } from '@meridian/base'
import { RelayError } from './errors.js'
import { clearAwarenessCheckTimer } from './yjs-internals.js'
import { AwarenessOwners } from './awareness-guard.js'

/** y-protocols' outdated timeout: a presence state not renewed for this long is removed. */
export const AWARENESS_TIMEOUT_MS = 30_000

/** Who changed presence. `P` is the room's peer type (a connection). */
export type AwarenessSource<P> =
  | { readonly kind: 'client'; readonly peer: P }
  | { readonly kind: 'bus' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'peer-left'; readonly peer: P }

/** What y-protocols' `update` event says changed. */
interface AwarenessUpdate {
  added: number[]
  updated: number[]
  removed: number[]
}

export interface AwarenessChange<P> {
  /** The changed clients' states, encoded as an awareness update. */
  readonly update: Uint8Array
  readonly source: AwarenessSource<P>
}

/**
 * The awareness sweep of every room on one clock that has presence states:
 * one interval for all of them (a timer per room is memory most rooms never
 * use), running only while some room has states. The room manager owns one.
 */
export class AwarenessSweeper {
  private readonly presences = new Set<{ sweep(): void }>()
  private timer: ClockTimer | null = null

  constructor(private readonly clock: Clock) {}

  add(presence: { sweep(): void }): void {
    this.presences.add(presence)
    this.timer ??= this.clock.setInterval(() => {
      for (const p of [...this.presences]) p.sweep()
    }, AWARENESS_TIMEOUT_MS / 10)
  }

  delete(presence: { sweep(): void }): void {
    this.presences.delete(presence)
    if (this.presences.size > 0 || this.timer === null) return
    this.clock.clearInterval(this.timer)
    this.timer = null
  }
}

/**
 * Presence of one room. The awareness and its owners are made with the first
 * presence update: most rooms never get one (a document edited by scripts, or
 * opened by clients that send no presence), and an empty Awareness with its
 * maps and listeners is about 1.3 KB per room.
 */
export class RoomPresence<P extends object> {
  private made: awarenessProtocol.Awareness | null = null
  /** Awareness client ids each peer owns (may set), removed when it leaves (awareness-guard.ts). */
  private owners: AwarenessOwners<P> | null = null
  /** When each present awareness client was last renewed (made with the first one). */
  private seen: Map<number, number> | null = null
  private inSweep = false
  /** The source of the change being applied now (y-protocols emits synchronously). */
  private current: AwarenessSource<P> | null = null
  private destroyed = false

  constructor(
    private readonly doc: Y.Doc,
    private readonly clock: Clock,
    private readonly sweeper: AwarenessSweeper,
    private readonly onChange: (change: AwarenessChange<P>) => void
  ) {}

  /** The presence states; null until the first presence update came. */
  get awareness(): awarenessProtocol.Awareness | null {
    return this.made
  }

  /** The awareness, made on first use. */
  private started(): awarenessProtocol.Awareness {
    if (this.made !== null) return this.made
    const awareness = new awarenessProtocol.Awareness(this.doc)
    // Awareness times states out on a real interval of its own: replaced by the sweep on the relay's clock
    // (a simulated clock must drive it too, and a room that is never destroyed must not keep a process alive).
    clearAwarenessCheckTimer(awareness)
    // The relay itself has no presence.
    awareness.setLocalState(null)
    awareness.on('update', (change: AwarenessUpdate) => this.onUpdate(change))
    this.made = awareness
    return awareness
  }

  /** Applies an awareness update; throws ERR_AWARENESS_INVALID on garbage. */
  apply(update: Uint8Array, source: AwarenessSource<P>): void {
    if (this.destroyed) return
    this.current = source
    try {
      awarenessProtocol.applyAwarenessUpdate(this.started(), update, null)
    } catch (cause) {
      throw new RelayError('ERR_AWARENESS_INVALID', undefined, { cause })
    } finally {
      this.current = null
    }
  }

  /**
   * Applies a peer's update: only the ids it owns or may claim (within
   * `maxIds`), with relay clocks, states within `maxStateBytes`
   * (awareness-guard.ts). Returns how many entries were dropped; throws
   * ERR_AWARENESS_INVALID on garbage.
   */
  applyFromPeer(update: Uint8Array, peer: P, limits: { maxIds: number; maxStateBytes: number }): number {
    if (this.destroyed) return 0
    let filtered
    try {
      const meta = this.made?.meta
      filtered = (this.owners ??= new AwarenessOwners<P>()).filter(update, peer, limits.maxIds, limits.maxStateBytes, (id) => meta?.get(id)?.clock ?? 0)
    } catch (cause) {
      throw new RelayError('ERR_AWARENESS_INVALID', undefined, { cause })
    }
    if (filtered.update !== null) this.apply(filtered.update, { kind: 'client', peer })
    return filtered.dropped
  }

  /** Removes the states `peer` owned. */
  peerLeft(peer: P): void {
    const ids = this.owners?.release(peer) ?? []
    if (ids.length === 0 || this.destroyed) return
    this.remove(ids, { kind: 'peer-left', peer })
  }

  /** Removes presence states not renewed for AWARENESS_TIMEOUT_MS (clients renew every 15 s), as y-protocols would. */
  sweep(): void {
    const now = this.clock.now()
    if (this.seen === null || this.seen.size === 0) return
    const stale = [...this.seen].filter(([, at]) => now - at >= AWARENESS_TIMEOUT_MS).map(([id]) => id)
    if (stale.length > 0) this.remove(stale, { kind: 'timeout' })
  }

  /** Every present client's state as one awareness update, or null when nobody is present. */
  encodeAll(): Uint8Array | null {
    const awareness = this.made
    if (awareness === null) return null
    const clients = [...awareness.getStates().keys()]
    return clients.length === 0 ? null : awarenessProtocol.encodeAwarenessUpdate(awareness, clients)
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.leaveSweep()
    this.made?.destroy() // its listeners with it
  }

  private remove(ids: number[], source: AwarenessSource<P>): void {
    const awareness = this.made
    if (awareness === null) return // nobody was ever present
    this.current = source
    try {
      awarenessProtocol.removeAwarenessStates(awareness, ids, null)
    } finally {
      this.current = null
    }
  }

  private onUpdate({ added, updated, removed }: AwarenessUpdate): void {
    const changed = [...added, ...updated, ...removed]
    const source = this.current
    if (changed.length === 0 || source === null) return
    const now = this.clock.now()
    const seen = (this.seen ??= new Map())
    for (const id of added) seen.set(id, now)
    for (const id of updated) seen.set(id, now)
    for (const id of removed) seen.delete(id)
    if (seen.size > 0 && !this.inSweep && !this.destroyed) {
      this.inSweep = true
      this.sweeper.add(this)
    } else if (seen.size === 0) this.leaveSweep()
    this.onChange({ update: awarenessProtocol.encodeAwarenessUpdate(this.started(), changed), source })
  }

  private leaveSweep(): void {
    if (!this.inSweep) return
    this.inSweep = false
    this.sweeper.delete(this)
  }
}
