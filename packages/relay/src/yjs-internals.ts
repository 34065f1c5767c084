/**
 * The one place the relay reads Yjs internals (fields not in its public API).
 * yjs-internals.test.ts checks the shape relied on here, so a Yjs upgrade that
 * changes it fails that test instead of silently disabling a safety check.
 */
import type * as Y from 'yjs'

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
}

const storeOf = (doc: Y.Doc): StoreInternals => doc.store as unknown as StoreInternals

/** The structs of each client, in clock order (the document's struct store). */
export const structsOf = (doc: Y.Doc, client: number): readonly StructLike[] | undefined => storeOf(doc).clients.get(client)

/** What Yjs keeps aside when an update refers to changes the document does not have. */
export interface PendingSnapshot {
  structs: unknown
  ds: unknown
}

export const pendingOf = (doc: Y.Doc): PendingSnapshot => {
  const store = storeOf(doc)
  return { structs: store.pendingStructs, ds: store.pendingDs }
}

export const hasPending = (doc: Y.Doc): boolean => {
  const store = storeOf(doc)
  return store.pendingStructs !== null || store.pendingDs !== null
}

/** Puts back what was pending before an update (dropping what it left pending). */
export const setPending = (doc: Y.Doc, snapshot: PendingSnapshot): void => {
  const store = storeOf(doc)
  store.pendingStructs = snapshot.structs
  store.pendingDs = snapshot.ds
}

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
