/**
 * What a room is built with, and the change it tells its listeners. The
 * options name the room type as `R` so that this file needs nothing of
 * room.ts (`RoomOptions` there is `RoomOptionsOf<Room>`).
 */
import type { Logger } from 'pino'
import type { StorageAdapter } from '@meridian/storage'
import type { Clock } from '@meridian/base'
import type { RelayMetrics } from './metrics.js'
import type { ChangeSource } from './change-source.js'
import type { AwarenessSweeper } from './room-presence.js'
import type { UpdateLimits } from './update-guard.js'

export interface RoomOptionsOf<R> {
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
  onStorageFailure?: (room: R) => void
  /** Nesting and delete-set limits every update is checked against (update-guard.ts); default DEFAULT_UPDATE_LIMITS. */
  updateLimits?: UpdateLimits
  /**
   * Applying an update failed inside Yjs: the document in memory can no longer
   * be trusted (it may hold changes never reported, or stop reporting any). The
   * room's peers were failed; it must leave memory now, without being compacted.
   */
  onBroken?: (room: R) => void
  /** The room's memory estimate may have changed (a change, encodings made or dropped): see memory-budget.ts. */
  onMemoryChange?: (room: R) => void
  /**
   * Every change of the room, after its own `onChange` listeners: one
   * function for all rooms (the room manager's `onRoomChange`), so that
   * relay-wide watchers need no listener and closure in every room.
   */
  onChange?: (room: R, change: RoomChange) => void
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
