import type { BroadcastPeer } from './broadcast.js'
import type { RelayError } from './errors.js'

/** A connection (a document session) as a room sees it. */
export interface RoomPeer extends BroadcastPeer {
  readonly id: string
  /** The room failed (storage write failed): the peer must disconnect so its client resyncs. */
  fail(error: RelayError): void
}
