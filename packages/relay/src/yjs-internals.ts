/**
 * Every place the relay relies on Yjs or y-protocols beyond their documented
 * API, in one module; yjs-internals.test.ts checks the shapes used here, so a
 * dependency upgrade that changes them fails a test instead of silently
 * disabling a safety check. The versions are pinned exactly in package.json
 * for the same reason.
 */
import * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'

interface StructLike {
  id: { client: number; clock: number }
  length: number
  deleted: boolean
}

interface StoreInternals {
  pendingStructs: unknown
  pendingDs: unknown
  clients: Map<number, StructLike[]>
}

interface DocInternals {
  _transaction: unknown
  _transactionCleanups: unknown[]
  /** lib0 Observable: listeners per event name. */
  _observers: Map<string, Set<unknown>>
}

const storeOf = (doc: Y.Doc): StoreInternals => doc.store as unknown as StoreInternals

/** The structs of each client, in clock order (the document's struct store). */
export const structsOf = (doc: Y.Doc, client: number): readonly StructLike[] | undefined => storeOf(doc).clients.get(client)

/**
 * The index of the struct holding `clock` in one client's structs (a binary
 * search). `Y.findIndexSS` is exported but typed for Yjs' own struct classes;
 * it reads only `id.clock` and `length`, and throws when no struct holds `clock`.
 */
export const findStructIndex = (structs: readonly StructLike[], clock: number): number =>
  Y.findIndexSS(structs as unknown as Parameters<typeof Y.findIndexSS>[0], clock)

/** What Yjs keeps aside when an update refers to changes the document does not have. */
export interface PendingSnapshot {
  structs: unknown
  ds: unknown
}

export const pendingOf = (doc: Y.Doc): PendingSnapshot => {
  const store = storeOf(doc)
  return { structs: store.pendingStructs, ds: store.pendingDs }
}

/** True while the document holds structs or deletes waiting for a missing dependency. */
export const hasPending = (doc: Y.Doc): boolean => {
  const store = storeOf(doc)
  return store.pendingStructs !== null || store.pendingDs !== null
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

/** Puts back what was pending before an update (dropping what it left pending). */
export const setPending = (doc: Y.Doc, snapshot: PendingSnapshot): void => {
  const store = storeOf(doc)
  store.pendingStructs = snapshot.structs
  store.pendingDs = snapshot.ds
}

/** The same as `setPending`, named for its use after a refused update. */
export const restorePending = setPending

/**
 * True when a transaction of `doc` threw during its cleanup (observers, GC,
 * merging): Yjs leaves it in `_transactionCleanups`, and from then on no later
 * transaction of that doc is cleaned up, so no `update` event fires again. Such
 * a doc silently stops reporting changes and must be thrown away.
 */
export const isWedged = (doc: Y.Doc): boolean => {
  const d = doc as unknown as DocInternals
  return d._transaction === null && d._transactionCleanups.length > 0
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

/**
 * Every Y.Doc listens to its own `load` and `sync` events from birth, for
 * `whenLoaded`/`whenSynced`: two listener sets, their closures and promises,
 * about 800 bytes per document. Providers emit those events; the relay's
 * documents have none, so nothing ever resolves them here. Drops the
 * listeners (the promises then never resolve, as they would not have anyway).
 */
export const dropProviderListeners = (doc: Y.Doc): void => {
  const observers = (doc as unknown as DocInternals)._observers
  observers.delete('load')
  observers.delete('sync')
}
