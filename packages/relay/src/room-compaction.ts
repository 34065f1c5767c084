/**
 * Compaction of a document whose stored updates memory cannot stand for
 * (shared storage: other relays' seqs interleave with ours): the snapshot is
 * rebuilt from storage's own content.
 */
import * as Y from 'yjs'
import type { Logger } from 'pino'
import { docFromStored, type StorageAdapter } from '@meridian/storage'
import { hasPending } from './yjs-internals.js'

/** Folds `docName`'s stored updates into a snapshot; returns how many updates were folded (0: none). */
export async function compactFromStorage(storage: StorageAdapter, docName: string, log: Logger): Promise<number> {
  const stored = await storage.load(docName)
  if (stored === null || stored.updates.length === 0) return 0
  const doc = docFromStored(stored)
  try {
    const last = stored.updates[stored.updates.length - 1]
    if (last === undefined) return 0
    // A snapshot encodes integrated content only: stored updates that still wait for a
    // missing dependency would be lost by folding them, so they stay as they are.
    if (hasPending(doc)) {
      log.warn('stored updates have missing dependencies; not compacting')
      return 0
    }
    await storage.compact(docName, Y.encodeStateAsUpdate(doc), last.seq)
    return stored.updates.length
  } finally {
    doc.destroy()
  }
}
