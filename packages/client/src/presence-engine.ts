import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'

/**
 * Presence (y-protocols awareness: cursors, names) as the provider uses it; the
 * implementation is `presence` from `@meridian/client/presence` (optional: it
 * keeps y-protocols' Awareness out of the default bundle).
 */
export interface Presence {
  /** A new Awareness for `doc`, when the app passes none. */
  create(doc: Y.Doc): Awareness
  /** The update announcing `clients`' states (encodeAwarenessUpdate). */
  encode(awareness: Awareness, clients: number[]): Uint8Array
  /** Applies a peer's update (applyAwarenessUpdate). */
  apply(awareness: Awareness, update: Uint8Array, origin: unknown): void
}
