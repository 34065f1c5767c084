import type { Room } from '../room.js'
import type { DocSizeGuard } from '../limits.js'
import { leftPending, pendingOf, restorePending } from '../hostile.js'

export type MeshApplyResult = 'applied' | 'too-large' | 'missing-deps'

/**
 * Applies an update received from another relay (a push or a pulled diff)
 * with the checks a client's write gets: the document size limit, and no
 * structs left waiting in memory for dependencies storage does not have.
 * Resolves once what was applied is committed; rejects as `Room.applyUpdate`.
 * On 'missing-deps' the integrable part (if any) is applied and committed, the
 * rest dropped: the sender's anti-entropy brings the whole missing part.
 */
export async function applyFromMesh(room: Room, update: Uint8Array, origin: unknown, docSize: DocSizeGuard): Promise<MeshApplyResult> {
  if (docSize.wouldExceed(room, update.byteLength)) return 'too-large'
  const pendingBefore = pendingOf(room.doc)
  const applied = room.applyUpdate(update, origin)
  if (leftPending(room.doc, pendingBefore)) {
    restorePending(room.doc, pendingBefore)
    await applied
    return 'missing-deps'
  }
  await applied
  return 'applied'
}
