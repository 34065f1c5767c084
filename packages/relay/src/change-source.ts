/**
 * Who made a change to a room's document, as one typed value. Every concern
 * that treats changes differently by where they came from (storing, broadcast,
 * mesh push, region bus publish, replication tracking) decides with an
 * exhaustive `switch (source.kind)`: a new kind of source fails to compile
 * until each of them has said what to do with it. See docs/architecture.md.
 */
import type { RoomPeer } from './room-peer.js'

/** A client's socket: stored, broadcast to the room's other peers, pushed to other regions, published, tracked. */
export interface ClientSource {
  readonly kind: 'client'
  readonly peer: RoomPeer
  /** The node id the client gave in HELLO (the delete log tells its writes by it), or null. */
  readonly nodeId: string | null
  /** The mesh numbers this write for replication tracking; the connection maps it to its message count. */
  readonly tracked: (trackedSeq: number) => void
}

/** A relay of the mesh pushed it (a live write it accepted); `region` is the sender's proven region. */
export interface MeshSource {
  readonly kind: 'mesh'
  readonly region: string
  readonly nodeId: string
}

/** Pulled by an anti-entropy round from a relay of `region`. */
export interface AntiEntropySource {
  readonly kind: 'anti-entropy'
  readonly region: string
}

/** Another relay of this region published it on the bus after storing it in the region's shared storage. */
export interface BusSource {
  readonly kind: 'bus'
}

/** Read from the region's shared storage to catch up with what the bus did not deliver. */
export interface BusCatchUpSource {
  readonly kind: 'bus-catch-up'
}

/**
 * A bus or catch-up update applied while the room held structs waiting for a
 * dependency: the transaction may carry a client's content that this update
 * released, so it is stored and published like a local write.
 */
export interface BusMergeSource {
  readonly kind: 'bus-merge'
}

/** The relay itself (server-side API, restore, import): a local write with no socket. */
export interface ServerSource {
  readonly kind: 'server'
  /** Who asked, for logs and audit (e.g. "admin", a token's subject). */
  readonly actor: string
  /** The mesh numbers this write for replication tracking (the document API reports its durability by it). */
  readonly tracked?: (trackedSeq: number) => void
}

export type ChangeSource = ClientSource | MeshSource | AntiEntropySource | BusSource | BusCatchUpSource | BusMergeSource | ServerSource

/** The change sources that carry no data of their own (one value each, shared). */
export const BUS_SOURCE: BusSource = Object.freeze({ kind: 'bus' })
export const BUS_CATCH_UP_SOURCE: BusCatchUpSource = Object.freeze({ kind: 'bus-catch-up' })
export const BUS_MERGE_SOURCE: BusMergeSource = Object.freeze({ kind: 'bus-merge' })

/**
 * Whether this relay appends the change to storage. Bus and catch-up changes
 * are already in the region's shared storage (another relay committed them).
 */
export function isStoredHere(source: ChangeSource): boolean {
  switch (source.kind) {
    case 'client':
    case 'mesh':
    case 'anti-entropy':
    case 'bus-merge':
    case 'server':
      return true
    case 'bus':
    case 'bus-catch-up':
      return false
  }
}

/** The room peer that must not get its own change back in the broadcast, if any. */
export function broadcastExcept(source: ChangeSource): RoomPeer | null {
  switch (source.kind) {
    case 'client':
      return source.peer
    case 'mesh':
    case 'anti-entropy':
    case 'bus':
    case 'bus-catch-up':
    case 'bus-merge':
    case 'server':
      return null
  }
}

/**
 * Whether the region's bus carries the change to the other relays of this
 * region. A bus change came from there; a catch-up change was read from the
 * shared storage every relay of the region reads.
 */
export function isPublishedOnBus(source: ChangeSource): boolean {
  switch (source.kind) {
    case 'client':
    case 'mesh':
    case 'anti-entropy':
    case 'bus-merge':
    case 'server':
      return true
    case 'bus':
    case 'bus-catch-up':
      return false
  }
}

/** A short label for logs and metrics. */
export function sourceLabel(source: ChangeSource): string {
  switch (source.kind) {
    case 'client':
      return `client:${source.peer.id}`
    case 'mesh':
      return `mesh:${source.region}/${source.nodeId}`
    case 'anti-entropy':
      return `anti-entropy:${source.region}`
    case 'server':
      return `server:${source.actor}`
    case 'bus':
    case 'bus-catch-up':
    case 'bus-merge':
      return source.kind
  }
}

/**
 * Whose checks an update gets before it is applied: a client's (history
 * documents are append-only for clients: history/append-only.ts) or the
 * relay's own (retention deletes versions; other relays pass those on).
 */
export type UpdateFrom = 'client' | 'relay'

export function updateFrom(source: ChangeSource): UpdateFrom {
  switch (source.kind) {
    case 'client':
      return 'client'
    case 'mesh':
    case 'anti-entropy':
    case 'bus':
    case 'bus-catch-up':
    case 'bus-merge':
    case 'server':
      return 'relay'
  }
}
