/**
 * Loading a room's document from storage (`Room.load`): the stored snapshot
 * and updates replayed into a fresh Y.Doc (stored-replay.ts), with what the
 * room needs to know about them (how many updates are not compacted yet, the
 * last seq they cover, their bytes for the memory budget).
 */
import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { StorageAdapter } from '@meridian/storage'
import { RelayError } from './errors.js'
import { replayStored } from './stored-replay.js'
import { dropProviderListeners } from './yjs-internals.js'
import type { UpdateLimits } from './update-guard.js'

/** Every deleted item may be garbage-collected (Yjs' default, which is a new closure per document). */
const COLLECT_ALL = (): boolean => true

/** Origin of transactions that replay storage: they are not changes (stored already, nobody to tell). */
export const LOAD_ORIGIN = Symbol('meridian-load')

export interface LoadedDocument {
  readonly doc: Y.Doc
  /** Stored updates not folded into the snapshot. */
  readonly storedUpdates: number
  /** The last storage seq the loaded state covers. */
  readonly coveredSeq: number
  /** Bytes loaded (snapshot and updates). */
  readonly loadedBytes: number
}

/**
 * Loads `name` from storage. A storage failure (ERR_DOC_LOAD) or an update
 * that cannot be applied (ERR_DOC_CORRUPT) rejects: an empty document must
 * never stand in for stored data.
 */
export async function loadDocument(name: string, o: { storage: StorageAdapter; logger: Logger; limits: UpdateLimits }): Promise<LoadedDocument> {
  let stored
  try {
    stored = await o.storage.load(name)
  } catch (cause) {
    throw new RelayError('ERR_DOC_LOAD', name, { cause })
  }
  // A guid of our own: Yjs would draw a UUID with 36 calls to the crypto RNG, a tenth of the relay's
  // CPU when many documents load (many-docs bench). The guid of a root document never goes on the wire.
  // Nor does it keep Yjs' listeners for provider events (no provider here): yjs-internals.ts.
  const doc = new Y.Doc({ gc: true, gcFilter: COLLECT_ALL, guid: name })
  dropProviderListeners(doc)
  if (stored === null) return { doc, storedUpdates: 0, coveredSeq: 0, loadedBytes: 0 }
  try {
    // Every stored update passes the live checks (update-guard.ts); one too deep is skipped.
    replayStored(doc, stored, LOAD_ORIGIN, { name, limits: o.limits, logger: o.logger })
  } catch (err) {
    doc.destroy()
    throw err
  }
  return {
    doc,
    storedUpdates: stored.updates.length,
    coveredSeq: stored.updates.at(-1)?.seq ?? stored.snapshotSeq,
    loadedBytes: stored.updates.reduce((n, u) => n + u.data.length, stored.snapshot?.length ?? 0)
  }
}
