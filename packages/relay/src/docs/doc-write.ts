/**
 * A write through the document API: the same path as a client's write
 * (update guard, document size limit, no structs left waiting for missing
 * dependencies — mesh/mesh-apply.ts — then `Room.applyUpdate` with a `server`
 * change source: stored, acknowledged after commit, broadcast to the room's
 * clients, pushed to other regions and tracked for replication by the mesh,
 * published on the region's bus), and the durability it reached.
 */
import type { Clock } from '@meridian/base'
import type { Room } from '../room.js'
import type { DocSizeGuard } from '../limits.js'
import type { RelayGuarantees } from '../guarantees.js'
import type { Mesh } from '../mesh/mesh.js'
import { RelayError } from '../errors.js'
import { applyWithinLimits } from '../guarded-apply.js'

/** How far a write got: committed by this relay ('relay'), in storage its whole region shares ('region'), or held by k other regions too. */
export type Durability = 'relay' | 'region' | { replicated: number }

export interface WriteResult {
  /** False when the document already held everything in the update (nothing stored, broadcast or pushed). */
  changed: boolean
  durability: Durability
  /** Other regions holding this write, out of those known; null when it changed nothing or there is no mesh. */
  regions: { held: number; total: number } | null
  /** With `waitFor`: whether `replicated: k` was reached before the timeout. */
  waitFor?: { replicated: number; satisfied: boolean }
}

export interface WriteDeps {
  docSize: DocSizeGuard
  guarantees: RelayGuarantees
  mesh: Mesh | null
  clock: Clock
  /** The relay's storage is its region's (a bus is configured): committed means committed for the region. */
  regionShared: boolean
}

export interface WriteOptions {
  actor: string
  /** Wait until this many other regions hold the write (or `timeoutMs` passes). */
  waitForReplicated?: number
  timeoutMs: number
}

export async function applyServerWrite(room: Room, update: Uint8Array, deps: WriteDeps, options: WriteOptions): Promise<WriteResult> {
  if (deps.guarantees.isReadOnly(room.name)) throw new RelayError('ERR_DOC_READ_ONLY')
  let tracked: number | null = null
  const before = room.changedBytes
  // A caller's write: inspected by a client's rules (a history document stays append-only over HTTP too).
  const result = applyWithinLimits(room, update, { kind: 'server', actor: options.actor, tracked: (seq) => { tracked = seq } }, deps.docSize, 'client')
  switch (result.kind) {
    case 'too-large':
      throw new RelayError('ERR_DOC_TOO_LARGE', `limit is ${deps.docSize.maxBytes} bytes`)
    case 'missing-deps':
      await result.committed
      throw new RelayError('ERR_UPDATE_MISSING_DEPS', 'the part that depends on nothing missing was applied; send the missing changes first')
    case 'applied':
      await result.committed
      break
  }
  return reachedDurability(deps, room.name, tracked, room.changedBytes !== before, options)
}

/** What reachedDurability needs of the relay. */
export type DurabilityDeps = Pick<WriteDeps, 'guarantees' | 'mesh' | 'clock' | 'regionShared'>

/**
 * The durability a committed write of `docName` reached: `seq` is the number
 * the mesh tracks it by (null: untracked — it changed nothing, or there is no
 * mesh). With `waitForReplicated`, resolves once that many other regions hold
 * it or `timeoutMs` passed. Also used by the version routes (history/).
 */
export async function reachedDurability(deps: DurabilityDeps, docName: string, seq: number | null, changed: boolean, options: Pick<WriteOptions, 'waitForReplicated' | 'timeoutMs'>): Promise<WriteResult> {
  const base: Durability = deps.regionShared ? 'region' : 'relay'
  if (seq === null || deps.mesh === null) {
    const out: WriteResult = { changed, durability: base, regions: null }
    if (options.waitForReplicated !== undefined) out.waitFor = { replicated: options.waitForReplicated, satisfied: false }
    return out
  }
  const want = options.waitForReplicated
  const held = want === undefined ? deps.guarantees.heldBy(seq) : await waitForRegions(deps, docName, seq, want, options.timeoutMs)
  const out: WriteResult = { changed, durability: held.held > 0 ? { replicated: held.held } : base, regions: held }
  if (want !== undefined) out.waitFor = { replicated: want, satisfied: held.held >= want }
  return out
}

/** Resolves once `want` other regions hold write `seq`, or at the timeout, with how many hold it then. */
function waitForRegions(deps: DurabilityDeps, docName: string, seq: number, want: number, timeoutMs: number): Promise<{ held: number; total: number }> {
  const mesh = deps.mesh as Mesh
  const now = (): { held: number; total: number } => deps.guarantees.heldBy(seq)
  if (now().held >= want || now().held >= now().total) return Promise.resolve(now())
  return new Promise((resolve) => {
    const finish = (): void => {
      unsubscribe()
      deps.clock.clearTimeout(timer)
      resolve(now())
    }
    const unsubscribe = mesh.tracking.onConfirm((doc) => {
      if (doc !== docName) return
      const h = now()
      if (h.held >= want || h.held >= h.total) finish()
    })
    const timer = deps.clock.setTimeout(finish, timeoutMs)
  })
}
