/**
 * A room's end of turn. What a room broadcasts during one event-loop turn is
 * collected and sent at its end (a microtask: no timer, so a simulated clock
 * sees the same thing), framed once for all sockets (broadcast.ts); then the
 * turn's changes are committed together (room-writes.ts). Broadcast goes
 * first, so the changes reach the peers before the commit's fsync.
 */
import type { Logger } from 'pino'
import { sendTurn, type BroadcastEntry } from './broadcast.js'
import type { RelayMetrics } from './metrics.js'
import type { RoomPeer } from './room-peer.js'

/** What a turn needs of its room. */
export interface TurnRoom {
  /** The room's logger (made on first use). */
  readonly log: Logger
}

export class RoomTurn {
  /** Messages to broadcast at the end of this turn (made with the first). */
  private outbox: BroadcastEntry[] | null = null
  private scheduled = false

  /** `writes.commit()` commits what the turn queued for storage (WriteQueue). No closures: this is per-room memory. */
  constructor(
    private readonly room: TurnRoom,
    private readonly peers: ReadonlySet<RoomPeer>,
    private readonly writes: { commit(): void },
    private readonly metrics: RelayMetrics | undefined
  ) {}

  /** Queues `message` for every peer but `except`, at the end of this turn. */
  broadcast(message: Uint8Array, except: object | null): void {
    ;(this.outbox ??= []).push({ message, except })
    this.schedule()
  }

  /** Makes sure the turn ends with a broadcast and a commit (a change to store may have nobody to send it to). */
  schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(this.onTurnEnd)
  }

  private readonly onTurnEnd = (): void => {
    this.scheduled = false
    try {
      this.flushBroadcast()
    } catch (err) {
      this.room.log.error({ err }, 'broadcast failed')
    }
    this.writes.commit()
  }

  private flushBroadcast(): void {
    const entries = this.outbox
    if (entries === null) return
    this.outbox = null
    if (this.peers.size > 0) sendTurn(entries, [...this.peers], this.metrics)
  }
}
