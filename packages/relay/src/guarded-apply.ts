/**
 * Applying an update that came from outside the relay — a client's write, a
 * mesh push, an anti-entropy pull — with the checks every such update gets:
 * the update guard (nesting, delete-set work: `Room.inspect` throws its
 * RelayError), the document size limit on the size the document will have,
 * and no structs left waiting in memory for dependencies storage does not
 * have (those would be acknowledged, yet lost on restart).
 */
import type { Room } from './room.js'
import type { DocSizeGuard } from './limits.js'
import { updateFrom, type ChangeSource, type UpdateFrom } from './change-source.js'
import { leftPending, pendingOf, restorePending } from './yjs-internals.js'

export type GuardedApply =
  /** Not applied: the document would grow past the limit. */
  | { readonly kind: 'too-large' }
  /**
   * The integrable part (if any) was applied and is being committed
   * (`committed`, as `Room.applyUpdate`); the rest was dropped — its sender
   * brings it again with what it depends on.
   */
  | { readonly kind: 'missing-deps'; readonly committed: Promise<void> }
  | { readonly kind: 'applied'; readonly committed: Promise<void> }

/**
 * Inspects, checks the size and applies `update`; throws what `Room.inspect` throws (nothing applied then).
 * `from` is whose rules the update is inspected by: a server-side write made for a caller (the HTTP
 * document API) passes 'client', so it gets a client's rules (e.g. history documents are append-only).
 */
export function applyWithinLimits(room: Room, update: Uint8Array, source: ChangeSource, docSize: DocSizeGuard, from: UpdateFrom = updateFrom(source)): GuardedApply {
  const inspection = room.inspect(update, from)
  // The size the document will have: a delete set cutting items adds an item per cut.
  if (docSize.wouldExceed(room, inspection.growthBytes)) return { kind: 'too-large' }
  const pendingBefore = pendingOf(room.doc)
  const committed = room.applyUpdate(update, source, { inspection })
  if (leftPending(room.doc, pendingBefore)) {
    // Whatever integrated is valid and already queued for storage; drop the rest.
    restorePending(room.doc, pendingBefore)
    return { kind: 'missing-deps', committed }
  }
  return { kind: 'applied', committed }
}
