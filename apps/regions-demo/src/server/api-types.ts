/**
 * The demo server's control API, shared with the page (type-only imports on
 * the page side). Every response of the API is a `DemoState` or an `ApiError`.
 */

/** One direction of a link as a relay sees it: its view of another region, from `GET /v1/cluster`. */
export interface PeerView {
  /** The other region. */
  region: string
  /** Linked to a relay of that region right now; null when the relay did not say. */
  reachable: boolean | null
  /** now − s_Q on the relay's clock: everything that region had before then is here. Null: never exchanged (unbounded). */
  stalenessMs: number | null
  /** Local updates the relay has not yet seen confirmed by that region (the replication backlog). */
  pendingUpdates: number | null
  pendingBytes: number | null
  /** Age of the oldest of them. */
  oldestPendingMs: number | null
}

/** What a running relay reports about the mesh. */
export interface MeshView {
  nodeId: string
  region: string
  /** Node ids of the members it has an open link to. */
  linked: string[]
  /** Every other region, in name order. */
  peers: PeerView[]
}

export interface RegionView {
  region: string
  relayId: string
  /** Where clients of this region connect (the relay itself, directly). */
  wsUrl: string
  running: boolean
  /** Null when the relay is down or did not answer; `error` says why. */
  mesh: MeshView | null
  error: string | null
}

/** Traffic from region `from` to region `to` is dropped (a cut both ways is two of these). */
export interface Cut {
  from: string
  to: string
}

export interface DemoState {
  docName: string
  regions: RegionView[]
  cuts: Cut[]
  /** Server time (ms since the epoch) this state was read at: for display only. */
  readAtMs: number
}

export type ApiErrorCode = 'ERR_BAD_REQUEST' | 'ERR_NOT_FOUND' | 'ERR_FORBIDDEN' | 'ERR_RELAY_STATE' | 'ERR_INTERNAL'

export interface ApiError {
  code: ApiErrorCode
  message: string
}

/** POST /api/cut */
export interface CutRequest {
  from: string
  to: string
  /** Cut both directions (default false: only `from` → `to`). */
  both?: boolean
}

/** POST /api/heal: between `a` and `b` (both directions), or everything when both are absent. */
export interface HealRequest {
  a?: string
  b?: string
}
