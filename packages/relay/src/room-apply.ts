/**
 * The Yjs side of `Room.applyUpdate` and `Room.transact`: who is changing the
 * document right now (Yjs emits its `'update'` events synchronously, so the
 * source of what it emits is the one set around the call), and what applying
 * an update did, as one typed outcome the room switches over.
 */
import * as Y from 'yjs'
import type { ChangeSource } from './change-source.js'
import { isWedged } from './yjs-internals.js'

/** The source of the change running now, and what Yjs emitted during it. */
export class ChangeCapture {
  private current: ChangeSource | null = null
  /** What Yjs emitted during the running change (made with its first update). */
  private produced: Uint8Array[] | null = null

  /** The HELLO node id of the client whose update is being applied, if any (the delete log's "whose write"). */
  clientNodeId(): string | null {
    const source = this.current
    return source !== null && source.kind === 'client' ? source.nodeId : null
  }

  /** Runs `change` with `source` as the source of what Yjs emits meanwhile; returns what it emitted. */
  runAs(source: ChangeSource, change: () => void): Uint8Array[] {
    this.current = source
    try {
      change()
    } finally {
      this.current = null
    }
    const produced = this.produced
    this.produced = null
    return produced ?? []
  }

  /** Keeps an update Yjs emitted for the running change; false outside `runAs` (nobody changing the document). */
  take(update: Uint8Array): boolean {
    if (this.current === null) return false
    ;(this.produced ??= []).push(update)
    return true
  }
}

/**
 * What applying one update did: `applied` with what the document gained (its
 * source's changes, possibly none); `invalid` when Yjs threw before changing
 * anything (the room is intact: refused like an update Yjs cannot read);
 * `broken` when the document may hold changes never reported, or is wedged
 * (it would apply later updates without reporting them).
 */
export type ApplyOutcome =
  | { readonly kind: 'applied'; readonly produced: readonly Uint8Array[] }
  | { readonly kind: 'invalid'; readonly cause: unknown }
  | { readonly kind: 'broken'; readonly cause: unknown }

/** Applies `update` to `doc` as a change of `source` (inspected already: see update-guard.ts). */
export function applyAs(doc: Y.Doc, capture: ChangeCapture, update: Uint8Array, source: ChangeSource): ApplyOutcome {
  let failure: unknown = null
  const before = Y.encodeStateVector(doc)
  const produced = capture.runAs(source, () => {
    try {
      Y.applyUpdate(doc, update)
    } catch (cause) {
      // It decoded (inspect), so the failure is inside Yjs' integration or cleanup.
      failure = cause
    }
  })
  if (failure !== null) {
    // Threw before changing anything: no change emitted, same state, not wedged.
    if (produced.length === 0 && !isWedged(doc) && sameBytes(before, Y.encodeStateVector(doc))) return { kind: 'invalid', cause: failure }
    return { kind: 'broken', cause: failure }
  }
  if (isWedged(doc)) return { kind: 'broken', cause: new Error('a Yjs transaction cleanup failed') }
  return { kind: 'applied', produced }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
