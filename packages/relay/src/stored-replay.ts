/**
 * Rebuilding a document from what storage holds, and checking a compaction
 * snapshot before it replaces anything. Both pass every stored update through
 * the same checks as a live one (update-guard.ts): an update nesting deeper
 * than the limit (stored before the limit existed) is skipped, never applied.
 */
import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { StoredDocument } from '@meridian/storage'
import { RelayError, isRelayError } from './errors.js'
import { inspectUpdate, type UpdateLimits } from './update-guard.js'
import { hasPending, isWedged } from './yjs-internals.js'

/** Live updates are bounded per message; stored ones were accepted already, so only depth is refused. */
const loadLimits = (limits: UpdateLimits): UpdateLimits => ({ ...limits, maxDeleteSplits: Number.POSITIVE_INFINITY })

/**
 * Applies a stored document to `doc` in one transaction with `origin`. Throws
 * ERR_DOC_CORRUPT (naming `name`) if the snapshot or an update cannot be
 * applied, or applying it failed inside Yjs. Returns how many updates were skipped.
 */
export function replayStored(doc: Y.Doc, stored: StoredDocument, origin: unknown, o: { name: string; limits: UpdateLimits; logger: Logger }): number {
  const limits = loadLimits(o.limits)
  let skipped = 0
  try {
    doc.transact(() => {
      if (stored.snapshot !== null) {
        inspectUpdate(doc, stored.snapshot, limits)
        Y.applyUpdate(doc, stored.snapshot, origin)
      }
      for (const u of stored.updates) {
        try {
          inspectUpdate(doc, u.data, limits)
        } catch (err) {
          if (!isRelayError(err) || err.code !== 'ERR_UPDATE_TOO_DEEP') throw err
          skipped++
          o.logger.warn({ doc: o.name, seq: u.seq, err }, 'skipped a stored update nesting deeper than the limit')
          continue
        }
        Y.applyUpdate(doc, u.data, origin)
      }
    }, origin)
  } catch (cause) {
    throw new RelayError('ERR_DOC_CORRUPT', o.name, { cause })
  }
  if (isWedged(doc)) throw new RelayError('ERR_DOC_CORRUPT', `${o.name}: applying it failed inside Yjs`)
  return skipped
}

/**
 * Throws ERR_DOC_CORRUPT unless `snapshot` loads into an empty document without
 * error, without anything left pending, and with exactly `stateVector` (the
 * state of the document it was encoded from). Run before a compaction deletes
 * the updates the snapshot stands for.
 */
export function verifySnapshot(name: string, snapshot: Uint8Array, stateVector: Uint8Array, limits: UpdateLimits): void {
  const doc = new Y.Doc({ gc: true, guid: name }) // no random guid: see room-load.ts
  try {
    try {
      inspectUpdate(doc, snapshot, loadLimits(limits))
      Y.applyUpdate(doc, snapshot)
    } catch (cause) {
      throw new RelayError('ERR_DOC_CORRUPT', `${name}: the compaction snapshot does not load`, { cause })
    }
    if (isWedged(doc) || hasPending(doc)) throw new RelayError('ERR_DOC_CORRUPT', `${name}: the compaction snapshot does not load cleanly`)
    if (!equalBytes(Y.encodeStateVector(doc), stateVector)) {
      throw new RelayError('ERR_DOC_CORRUPT', `${name}: the compaction snapshot does not hold the document's state`)
    }
  } finally {
    doc.destroy()
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
