import type * as Y from 'yjs'
import { KitError } from './assertions.js'

/**
 * Runs `fn` and returns the update it made `doc` emit (the object the doc
 * emitted, so a provider's `durabilityOf(update)` knows it). Throws
 * ERR_NOT_ONE_UPDATE if `fn` changed nothing or made several transactions
 * (wrap them in `doc.transact`): a test meaning one write should not get
 * another silently.
 */
export function captureUpdate(doc: Y.Doc, fn: () => void): Uint8Array {
  const updates: Uint8Array[] = []
  const on = (update: Uint8Array): void => {
    updates.push(update)
  }
  doc.on('update', on)
  try {
    fn()
  } finally {
    doc.off('update', on)
  }
  const [update] = updates
  if (update === undefined || updates.length > 1) throw new KitError('ERR_NOT_ONE_UPDATE', `expected one update, the function made ${updates.length}`)
  return update
}
