import type { Room } from '../room.js'
import type { DocSizeGuard } from '../limits.js'
import type { ChangeSource } from '../change-source.js'
import { leftPending, pendingOf, restorePending } from '../yjs-internals.js'

export type MeshApplyResult = 'applied' | 'too-large' | 'missing-deps'

/**
 * Applies an update received from another relay (a push or a pulled diff)
 * with the checks a client's write gets: the update guard (nesting, delete-set
 * work), the document size limit on the size it will have, and no structs left
 * waiting in memory for dependencies storage does not have. Resolves once what
 * was applied is committed; rejects as `Room.applyUpdate` (and with the
 * guard's error). On 'missing-deps' the integrable part (if any) is applied and
 * committed, the rest dropped: the sender's anti-entropy brings the whole
 * missing part.
 */
export async function applyFromMesh(room: Room, update: Uint8Array, source: ChangeSource, docSize: DocSizeGuard): Promise<MeshApplyResult> {
  const inspection = room.inspect(update, 'relay')
  if (docSize.wouldExceed(room, inspection.growthBytes)) return 'too-large'
  const pendingBefore = pendingOf(room.doc)
  const applied = room.applyUpdate(update, source, { inspection })
  if (leftPending(room.doc, pendingBefore)) {
    restorePending(room.doc, pendingBefore)
    await applied
    return 'missing-deps'
  }
  await applied
  return 'applied'
}
