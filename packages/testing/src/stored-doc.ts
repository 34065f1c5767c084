import * as Y from 'yjs'
import type { StorageAdapter } from '@meridian/storage'

/** A document as a storage adapter holds it (snapshot, then the updates after it). Empty when absent. */
export async function loadStoredDoc(storage: StorageAdapter, docName: string): Promise<Y.Doc> {
  const stored = await storage.load(docName)
  const doc = new Y.Doc()
  if (stored?.snapshot) Y.applyUpdate(doc, stored.snapshot)
  for (const u of stored?.updates ?? []) Y.applyUpdate(doc, u.data)
  return doc
}
