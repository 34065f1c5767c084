/**
 * Every place the relay relies on Yjs or y-protocols beyond their documented
 * API, in one module; yjs-internals.test.ts checks the shapes used here, so a
 * dependency upgrade that changes them fails a test, not production. The
 * versions are pinned exactly in package.json for the same reason.
 */
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'

/** What Yjs keeps aside when an update refers to changes the document does not have. */
export interface PendingSnapshot {
  readonly structs: unknown
  readonly ds: unknown
}

/** The struct store's pending fields: typed in Yjs' declarations, but written here, which Yjs does not expect. */
interface PendingFields {
  pendingStructs: unknown
  pendingDs: unknown
}

const pendingFieldsOf = (doc: Y.Doc): PendingFields => doc.store as unknown as PendingFields

/** True while the document holds structs or deletes waiting for a missing dependency. */
export const hasPending = (doc: Y.Doc): boolean => doc.store.pendingStructs !== null || doc.store.pendingDs !== null

export const pendingOf = (doc: Y.Doc): PendingSnapshot => {
  const store = pendingFieldsOf(doc)
  return { structs: store.pendingStructs, ds: store.pendingDs }
}

/**
 * After applying an update: true if the update left something pending (it
 * depends on changes the document lacks). Only judged when nothing was pending
 * before — otherwise the pending state cannot be attributed to this update.
 */
export const leftPending = (doc: Y.Doc, before: PendingSnapshot): boolean => {
  if (before.structs !== null || before.ds !== null) return false
  return hasPending(doc)
}

/** Drops what an update left pending, restoring the state from before it. */
export const restorePending = (doc: Y.Doc, before: PendingSnapshot): void => {
  const store = pendingFieldsOf(doc)
  store.pendingStructs = before.structs
  store.pendingDs = before.ds
}

/**
 * y-protocols' Awareness times states out on a real `setInterval` of its own
 * (`_checkInterval`); the relay sweeps on its injected clock instead, so that
 * timer is stopped.
 */
export const clearAwarenessCheckTimer = (awareness: Awareness): void => {
  const own = awareness as unknown as { _checkInterval: ReturnType<typeof setInterval> | null }
  clearInterval(own._checkInterval ?? undefined)
  own._checkInterval = null
}
